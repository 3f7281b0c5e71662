/**
 * The web app says every refusal by its code, in the user's language
 * (`errors.<code>`): a code the server can send must have words in both
 * languages before it ships, or the page would have nothing to say.
 */
import { describe, expect, it } from 'vitest';
import { errorCodeSchema } from '../../protocol/errors.js';
import en from '../../web/src/i18n/en.js';
import vi from '../../web/src/i18n/vi.js';

describe('error messages', () => {
  for (const [language, messages] of [
    ['vi', vi],
    ['en', en],
  ] as const) {
    it.each(errorCodeSchema.options)(`${language} has words for '%s'`, (code) => {
      const text = (messages.errors as Record<string, string | undefined>)[code];
      expect(typeof text).toBe('string');
      expect(text!.trim()).not.toBe('');
    });
  }

  it('has words for a server that cannot be reached, which is no protocol code', () => {
    expect(vi.errors.network).toBeTruthy();
    expect(en.errors.network).toBeTruthy();
  });
});
