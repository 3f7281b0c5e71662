import { describe, expect, it } from 'vitest';
import { backupIdentity, choosesOnJoin, studioOnTakeover } from '../../sfu/ingest/backupEncoder.js';

describe('backup encoder rules', () => {
  it("a backup takes whichever encoder identity the main does not use, so a returning encoder never replaces the main's studio", () => {
    expect(backupIdentity('encoder')).toBe('encoder-backup');
    expect(backupIdentity('encoder-backup')).toBe('encoder');
  });

  it('the backup taking over inherits the main as the program studio, chosen or on air by join order', () => {
    // The operator chose the main: the backup is chosen, a browser studio that joined earlier does not win by join order.
    expect(studioOnTakeover({ chosen: 'encoder', onAir: 'encoder', departed: 'encoder', promoted: 'encoder-backup' })).toBe(
      'encoder-backup',
    );
    // After one takeover, the other way round.
    expect(studioOnTakeover({ chosen: 'encoder-backup', onAir: 'encoder-backup', departed: 'encoder-backup', promoted: 'encoder' })).toBe(
      'encoder',
    );
    // Nothing chosen, the main on air by join order.
    expect(studioOnTakeover({ chosen: null, onAir: 'encoder', departed: 'encoder', promoted: 'encoder-backup' })).toBe('encoder-backup');
  });

  it("the operator's choice of another studio stands", () => {
    expect(studioOnTakeover({ chosen: 'hoi-truong', onAir: 'hoi-truong', departed: 'encoder', promoted: 'encoder-backup' })).toBeNull();
    // Nothing chosen and the browser studio on air by join order: it stays.
    expect(studioOnTakeover({ chosen: null, onAir: 'hoi-truong', departed: 'encoder', promoted: 'encoder-backup' })).toBeNull();
    // The chosen browser studio away for a moment: the encoder was on air only by fallback, and the choice is kept for its return.
    expect(studioOnTakeover({ chosen: 'hoi-truong', onAir: 'encoder', departed: 'encoder', promoted: 'encoder-backup' })).toBeNull();
  });

  it('a new main encoder is chosen in place of a chosen encoder that left, not of a studio still there or another one', () => {
    const present = (ids: string[]) => (id: string) => ids.includes(id);
    expect(choosesOnJoin('encoder-backup', 'encoder', present(['hoi-truong', 'encoder']))).toBe(true);
    expect(choosesOnJoin('encoder', 'encoder', present(['encoder']))).toBe(false);
    expect(choosesOnJoin(null, 'encoder', present(['encoder']))).toBe(false);
    expect(choosesOnJoin('hoi-truong', 'encoder', present(['encoder']))).toBe(false);
    expect(choosesOnJoin('encoder-backup', 'encoder', present(['encoder', 'encoder-backup']))).toBe(false);
  });
});
