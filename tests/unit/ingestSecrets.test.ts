import { describe, expect, it } from 'vitest';
import { ingestSecret, parseRtmpStreamKey, rtmpStreamKey, sameSecret } from '../../sfu/ingest/ingestSecrets.js';

const server = 'a-server-secret-of-at-least-32-characters';

describe('encoder secrets', () => {
  it('differ per session, per protocol and per generation, and stay the same otherwise', () => {
    const base = ingestSecret(server, 'ky-hop', 'rtmp', 0);
    expect(base).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(ingestSecret(server, 'ky-hop', 'rtmp', 0)).toBe(base);
    expect(ingestSecret(server, 'ky-hop-2', 'rtmp', 0)).not.toBe(base);
    expect(ingestSecret(server, 'ky-hop', 'srt', 0)).not.toBe(base);
    expect(ingestSecret(server, 'ky-hop', 'rtmp', 1)).not.toBe(base);
    expect(ingestSecret(`${server}x`, 'ky-hop', 'rtmp', 0)).not.toBe(base);
  });

  it('compare only equal strings as equal, whatever their length', () => {
    const secret = ingestSecret(server, 'ky-hop', 'srt', 3);
    expect(sameSecret(secret, secret)).toBe(true);
    expect(sameSecret(secret.slice(0, -1), secret)).toBe(false);
    expect(sameSecret(`${secret}x`, secret)).toBe(false);
    expect(sameSecret('', secret)).toBe(false);
  });

  it('an RTMP stream key carries the session and its secret, and nothing else parses', () => {
    const key = rtmpStreamKey('ky-hop.2026', 'abc_DEF-123');
    expect(parseRtmpStreamKey(key)).toEqual({ sessionId: 'ky-hop.2026', secret: 'abc_DEF-123' });
    for (const wrong of ['', 'ky-hop', '~secret', 'ky-hop~', 'x'.repeat(300) + '~s']) expect(parseRtmpStreamKey(wrong)).toBeNull();
  });
});
