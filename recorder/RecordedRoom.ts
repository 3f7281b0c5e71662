import type { types } from 'mediasoup';
import type { SessionStatus } from '../protocol/index.js';

/** A stream of the program, and whose it is. */
export type ProgramProducer = types.Producer<{ identity: string }>;

/** What is on air: the picture (none between speakers) and every voice heard. */
export interface ProgramSources {
  video: ProgramProducer | undefined;
  audio: ProgramProducer[];
}

/**
 * What the recorder needs of a live session, and nothing more: the SFU's
 * Room provides it. The recorder never reaches into the SFU itself.
 */
export interface RecordedRoom {
  /** The streams on air changed: the encoder follows. */
  on(event: 'program', listener: (sources: ProgramSources) => void): unknown;
  /** The agenda item under discussion changed: a chapter. */
  on(event: 'agenda', listener: (item: { id: string; title: string } | null) => void): unknown;
  on(event: 'snapshot', listener: (snapshot: { status: SessionStatus }) => void): unknown;
  off(event: 'program', listener: (sources: ProgramSources) => void): unknown;
  off(event: 'agenda', listener: (item: { id: string; title: string } | null) => void): unknown;
  once(event: 'close', listener: () => void): unknown;
  readonly id: string;
  readonly title: string;
  readonly status: SessionStatus;
  readonly closed: boolean;
  readonly recording: boolean;
  programSources(): ProgramSources;
  /** The router of one worker, where the recorder takes its streams. */
  router(slotIndex: number): types.Router | undefined;
  /** Consumes a program stream on a transport of that router (piping it there first). */
  consumeOn(
    slotIndex: number,
    transport: types.Transport,
    producer: ProgramProducer,
    rtpCapabilities: types.RtpCapabilities,
  ): Promise<types.Consumer>;
  /** A participant's display name. */
  peer(identity: string): { name: string } | undefined;
  /** Shows everyone whether the session is being recorded. */
  setRecording(recording: boolean, actor: string): void;
  /** Keeps the routers open until `work` ends (the encoder closing its last segment). */
  delayClose(work: Promise<unknown>): void;
}

/** Where the recorder learns of each session's Room as it opens. */
export interface RecordedRooms {
  on(event: 'room', listener: (room: RecordedRoom, record: { public: boolean }) => void): unknown;
}
