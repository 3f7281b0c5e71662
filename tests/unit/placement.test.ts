import { describe, expect, it } from 'vitest';
import { configSchema } from '../../config/schema.js';
import { chooseWorker, hasRoom, type WorkerLoad } from '../../sfu/media/placement.js';

const loads = (...pairs: [peers: number, streams: number][]): WorkerLoad[] =>
  pairs.map(([peers, streams], index) => ({ index, peers, streams }));

describe('placing participants and streams on the media workers', () => {
  it('lets a worker fill up to the limit and not one stream beyond', () => {
    expect(hasRoom({ streams: 9 }, 1, 10)).toBe(true);
    expect(hasRoom({ streams: 10 }, 1, 10)).toBe(false);
    expect(hasRoom({ streams: 8 }, 3, 10)).toBe(false);
  });

  it('always has room for a participant who receives nothing at once (a session not yet on air)', () => {
    expect(hasRoom({ streams: 10 }, 0, 10)).toBe(true);
    expect(chooseWorker(loads([3, 10], [5, 10]), 0, 10)?.index).toBe(0);
  });

  it('spreads participants who join together by their number, before their consumers exist', () => {
    expect(chooseWorker(loads([4, 0], [3, 0]), 2, 100)?.index).toBe(1);
    // The same number of participants: the worker with fewer streams, then the first.
    expect(chooseWorker(loads([3, 40], [3, 20]), 2, 100)?.index).toBe(1);
    expect(chooseWorker(loads([3, 20], [3, 20]), 2, 100)?.index).toBe(0);
  });

  it('skips a worker without room for what the participant receives at once, and says when none has', () => {
    expect(chooseWorker(loads([1, 99], [50, 10]), 2, 100)?.index).toBe(1);
    expect(chooseWorker(loads([1, 99], [50, 99]), 2, 100)).toBeUndefined();
    expect(chooseWorker(loads([1, 99], [50, 99]), 1, 100)?.index).toBe(0);
    expect(chooseWorker([], 1, 100)).toBeUndefined();
  });

  it('fits a 100-point session with simulcast on 2 workers in the default with room to spare', () => {
    const max = configSchema.parse({}).maxStreamsPerWorker;
    // 100 points + the studio + an operator, half on each worker; each point and the
    // studio send a camera (one producer, whatever its simulcast layers) and a microphone;
    // everyone receives the program picture, the studio's voice and the floor's.
    const peersPerWorker = Math.ceil(102 / 2);
    const perWorker = Math.ceil((101 * 2) / 2) + peersPerWorker * 3;
    expect(perWorker).toBeLessThanOrEqual(max / 2);
  });
});
