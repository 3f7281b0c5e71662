/**
 * The rules that place participants and their streams on the media workers,
 * kept apart from mediasoup so they can be checked on their own.
 *
 * A "stream" is one producer or one consumer of a participant on a worker's
 * routers: what a worker forwards grows with them, and a worker that forwards
 * more than its core can carry loses packets for every point on it. Pipes
 * between workers and the recorder's consumers are not counted: there are a
 * few per session, not a few per participant.
 */

/** What one worker carries, as placement counts it. */
export interface WorkerLoad {
  index: number;
  /** Participants whose transports are on this worker. */
  peers: number;
  /** Producers and consumers of those participants. */
  streams: number;
}

/** Whether a worker can take `streams` more without going over `maxStreams`. */
export function hasRoom(load: Pick<WorkerLoad, 'streams'>, streams: number, maxStreams: number): boolean {
  return load.streams + streams <= maxStreams;
}

/**
 * The worker for a participant who joins and will receive `streams` at once
 * (the program picture and the voices on air): among the workers with room
 * for them, the one with the fewest participants, so that many joining
 * together spread evenly before their consumers exist; on a tie the one with
 * fewer streams, then the first. Undefined when no worker has room.
 */
export function chooseWorker<T extends WorkerLoad>(loads: readonly T[], streams: number, maxStreams: number): T | undefined {
  let best: T | undefined;
  for (const load of loads) {
    if (!hasRoom(load, streams, maxStreams)) continue;
    if (!best || load.peers < best.peers || (load.peers === best.peers && load.streams < best.streams)) best = load;
  }
  return best;
}
