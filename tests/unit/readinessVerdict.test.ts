import { describe, expect, it } from 'vitest';
import { readinessFiguresSchema, type ReadinessFigures } from '../../protocol/index.js';
import { readinessThresholds, readinessVerdict } from '../../sfu/readiness/readinessVerdict.js';

/** A commune room on a good link: camera, voice, tone heard, UDP, 40 ms, 2 Mbit/s both ways, no loss. */
const good: ReadinessFigures = {
  camera: true,
  micLevel: 0.3,
  speakers: 'heard',
  transport: 'udp',
  rttMs: 40,
  uploadKbps: 2000,
  downloadKbps: 2000,
  loss: 0,
};
const verdictOf = (change: Partial<ReadinessFigures>) => readinessVerdict({ ...good, ...change });

describe('the readiness verdict', () => {
  it('calls a point with everything working ready, with no problem to report', () => {
    expect(readinessVerdict(good)).toEqual({ verdict: 'ready', problems: [] });
  });

  it('keeps a point whose network blocks UDP ready, with the TCP warning', () => {
    expect(verdictOf({ transport: 'tcp' })).toEqual({ verdict: 'ready', problems: ['tcp-only'] });
  });

  it('fails a point on each threshold just past its limit, and not at the limit', () => {
    const t = readinessThresholds;
    expect(verdictOf({ rttMs: t.maxRttMs })).toEqual({ verdict: 'ready', problems: [] });
    expect(verdictOf({ rttMs: t.maxRttMs + 1 })).toEqual({ verdict: 'problem', problems: ['high-rtt'] });
    expect(verdictOf({ uploadKbps: t.minUploadKbps })).toEqual({ verdict: 'ready', problems: [] });
    expect(verdictOf({ uploadKbps: t.minUploadKbps - 1 })).toEqual({ verdict: 'problem', problems: ['low-upload'] });
    expect(verdictOf({ downloadKbps: t.minDownloadKbps - 1 })).toEqual({ verdict: 'problem', problems: ['low-download'] });
    expect(verdictOf({ loss: t.maxLoss })).toEqual({ verdict: 'ready', problems: [] });
    expect(verdictOf({ loss: t.maxLoss + 0.001 })).toEqual({ verdict: 'problem', problems: ['high-loss'] });
  });

  it('fails a point without a camera, with a silent microphone, or whose clerk did not hear the tone', () => {
    expect(verdictOf({ camera: false }).problems).toEqual(['no-camera']);
    expect(verdictOf({ micLevel: 0 }).problems).toEqual(['mic-silent']);
    expect(verdictOf({ speakers: 'not-heard' }).problems).toEqual(['speakers-not-confirmed']);
    expect(verdictOf({ speakers: 'unanswered' }).problems).toEqual(['speakers-not-confirmed']);
    expect(verdictOf({ camera: false }).verdict).toBe('problem');
  });

  it('reports a network nothing got through as unreachable, not as four separate figures', () => {
    expect(verdictOf({ transport: null, rttMs: null, uploadKbps: null, downloadKbps: null, loss: null })).toEqual({
      verdict: 'problem',
      problems: ['network-unreachable'],
    });
  });

  it('counts a link that connected but never measured a rate as too slow', () => {
    expect(verdictOf({ uploadKbps: null, downloadKbps: null }).problems).toEqual(['low-upload', 'low-download']);
  });

  it('lists every problem at once, warning included, for the page to advise on each', () => {
    expect(verdictOf({ transport: 'tcp', rttMs: 800, loss: 0.2, micLevel: 0 })).toEqual({
      verdict: 'problem',
      problems: ['mic-silent', 'tcp-only', 'high-rtt', 'high-loss'],
    });
  });

  it('refuses figures out of range or with fields the protocol does not know', () => {
    expect(readinessFiguresSchema.safeParse(good).success).toBe(true);
    expect(readinessFiguresSchema.safeParse({ ...good, loss: 1.5 }).success).toBe(false);
    expect(readinessFiguresSchema.safeParse({ ...good, uploadKbps: -1 }).success).toBe(false);
    expect(readinessFiguresSchema.safeParse({ ...good, note: 'x' }).success).toBe(false);
    expect(readinessFiguresSchema.safeParse({ ...good, transport: 'quic' }).success).toBe(false);
  });
});
