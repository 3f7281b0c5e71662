import { describe, expect, it } from 'vitest';
import type { PeerSummary, Role, SessionSnapshot } from '../../protocol/index.js';
import { snapshotFor } from '../../sfu/room/snapshotFor.js';

const peer = (identity: string, role: Role, handRaised = false): PeerSummary => ({
  identity,
  name: identity,
  role,
  handRaised,
  sending: { audio: true, video: role !== 'viewer' },
  receiveMode: 'auto',
  muted: false,
  joinedAt: 0,
});

const points = Array.from({ length: 300 }, (_, i) => peer(`xa-${i}`, 'point', i % 10 === 0));
const full: SessionSnapshot = {
  sessionId: 's',
  title: 'Kỳ họp',
  status: 'live',
  programSource: 'xa-7',
  floor: 'xa-7',
  studio: 'studio',
  chosenStudio: null,
  recording: true,
  agendaItem: null,
  handsRaised: points.filter((p) => p.handRaised).map((p) => p.identity),
  peers: [peer('studio', 'studio'), peer('chanh-vp', 'operator'), ...points],
};

describe('what each participant learns of the session', () => {
  it('shows the studio and the control room everyone', () => {
    expect(snapshotFor(full, { identity: 'studio', role: 'studio' })).toBe(full);
    expect(snapshotFor(full, { identity: 'chanh-vp', role: 'operator' })).toBe(full);
  });

  it('shows a point the state, who is on air (the floor holder and the studio heard) and itself, and only its own raised hand', () => {
    const seen = snapshotFor(full, { identity: 'xa-20', role: 'point' });
    expect(seen.peers.map((p) => p.identity).sort()).toEqual(['studio', 'xa-20', 'xa-7']);
    expect(seen.handsRaised).toEqual(['xa-20']);
    expect({ ...seen, peers: [], handsRaised: [] }).toEqual({ ...full, peers: [], handsRaised: [] });
  });

  it('keeps the snapshot a point receives the same size however many points join', () => {
    const small = JSON.stringify(snapshotFor({ ...full, peers: full.peers.slice(0, 12) }, { identity: 'xa-3', role: 'point' }));
    const large = JSON.stringify(snapshotFor(full, { identity: 'xa-3', role: 'point' }));
    expect(large.length).toBe(small.length);
  });

  it('shows a viewer the program and nobody else', () => {
    const seen = snapshotFor({ ...full, floor: null, programSource: 'studio' }, { identity: 'v', role: 'viewer' });
    expect(seen.peers.map((p) => p.identity)).toEqual(['studio']);
    expect(seen.handsRaised).toEqual([]);
  });
});
