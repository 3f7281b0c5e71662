/**
 * The rules of the program, with no media in them: who is pictured, who is
 * heard, what each participant should receive, and at which layer. `Room`
 * applies them to mediasoup objects; the unit tests apply them to plain ones.
 */
import { alwaysOnAir, type MediaSource, type ReceiveMode, type Role, type SessionStatus } from '../../protocol/index.js';

/** What the rules need of a stream a participant sends (a mediasoup Producer fits). */
export interface SentStream {
  readonly id: string;
  readonly kind: 'audio' | 'video';
  readonly closed: boolean;
  readonly appData: { readonly source: MediaSource };
}

/** What the rules need of a participant. */
export interface Sender<S extends SentStream> {
  readonly identity: string;
  readonly role: Role;
  readonly streams: Iterable<S>;
}

/**
 * The session's state the rules read: on air or not, who holds the floor,
 * whom the operator silenced, and which studio is the program when there are
 * two (the hall's browser and its encoder: programStudio()).
 */
export interface FloorState {
  readonly status: SessionStatus;
  readonly floor: string | null;
  readonly muted: ReadonlySet<string>;
  /** The studio on air (programStudio's answer); null when there is none. */
  readonly studio: string | null;
}

/** What is on air: the picture and every voice heard. */
export interface Program<S extends SentStream> {
  video: S | undefined;
  audio: S[];
}

/** The open stream of one kind (and source, if given) among a participant's streams. */
export function streamOf<S extends SentStream>(streams: Iterable<S>, kind: 'audio' | 'video', source?: MediaSource): S | undefined {
  for (const s of streams) if (s.kind === kind && !s.closed && (source === undefined || s.appData.source === source)) return s;
  return undefined;
}

/**
 * Which studio is the program when the hall sends from two (a browser and
 * its encoder): the one the operator chose while it sends, else the first to
 * have joined that sends a picture, else the first that sends sound — so the
 * program falls back to the other at once when the chosen one drops, and
 * returns when it comes back.
 */
export function programStudio<S extends SentStream>(senders: Iterable<Sender<S>>, chosen: string | null): string | null {
  let withPicture: string | null = null;
  let withSound: string | null = null;
  for (const sender of senders) {
    if (!alwaysOnAir(sender.role)) continue;
    const picture = streamOf(sender.streams, 'video') !== undefined;
    if (!picture && streamOf(sender.streams, 'audio') === undefined) continue;
    if (sender.identity === chosen) return sender.identity;
    if (picture) withPicture ??= sender.identity;
    else withSound ??= sender.identity;
  }
  return withPicture ?? withSound;
}

/**
 * Whether a participant's microphone reaches the program: the studio on air
 * always (the other studio, if any, is silent), a point only while it holds
 * the floor, nobody the operator silenced.
 */
export function mayBeHeard(sender: { identity: string; role: Role }, state: Pick<FloorState, 'floor' | 'muted' | 'studio'>): boolean {
  if (state.muted.has(sender.identity)) return false;
  if (alwaysOnAir(sender.role)) return state.studio === null || state.studio === sender.identity;
  return state.floor === sender.identity;
}

/** A participant's picture for the program: a shared screen before the camera. */
function pictureOf<S extends SentStream>(sender: Sender<S>): S | undefined {
  return streamOf(sender.streams, 'video', 'screen') ?? streamOf(sender.streams, 'video');
}

/** The picture on air: the floor holder's, else the program studio's; none while nobody sends one. */
export function programPicture<S extends SentStream>(
  senders: Iterable<Sender<S>>,
  state: Pick<FloorState, 'floor' | 'studio'>,
): S | undefined {
  let studio: S | undefined;
  for (const sender of senders) {
    if (state.floor !== null && sender.identity === state.floor) {
      const picture = pictureOf(sender);
      if (picture) return picture;
    } else if (!studio && alwaysOnAir(sender.role) && (state.studio === null || sender.identity === state.studio)) {
      studio = pictureOf(sender);
    }
  }
  return studio;
}

/** The program: nothing before the session is on air; then the picture and every voice that may be heard. */
export function programOf<S extends SentStream>(senders: Iterable<Sender<S>>, state: FloorState): Program<S> {
  if (state.status !== 'live') return { video: undefined, audio: [] };
  const list = [...senders];
  const audio: S[] = [];
  for (const sender of list) {
    const mic = mayBeHeard(sender, state) ? streamOf(sender.streams, 'audio') : undefined;
    if (mic) audio.push(mic);
  }
  return { video: programPicture(list, state), audio };
}

/**
 * What one participant should receive: the program, less its own streams
 * (nobody hears themselves), less the picture for a point that asked for
 * sound only. Keyed by stream id.
 */
export function wantedBy<S extends SentStream>(
  receiver: { receiveMode: ReceiveMode; ownStreamIds: ReadonlySet<string> | Iterable<string> },
  program: Program<S>,
): Map<string, S> {
  const wanted = new Map<string, S>();
  if (program.video && receiver.receiveMode !== 'audio-only') wanted.set(program.video.id, program.video);
  for (const mic of program.audio) wanted.set(mic.id, mic);
  for (const own of receiver.ownStreamIds) wanted.delete(own);
  return wanted;
}

/** How many streams a participant joining now receives at once (for placing it on a worker with room). */
export function receivedOnJoin(program: Program<SentStream>, receiveMode: ReceiveMode): number {
  return program.audio.length + (program.video && receiveMode !== 'audio-only' ? 1 : 0);
}

/**
 * The simulcast layer a receiver's picture may climb to: the lowest when it
 * asked for low bandwidth or its link loses too much (weakLink.ts), else the
 * highest, within what mediasoup's estimate of its bandwidth allows.
 */
export function preferredSpatialLayer(mode: ReceiveMode, weakLink: boolean): 0 | 2 {
  return mode === 'low' || weakLink ? 0 : 2;
}

/** A key that changes exactly when the set of streams on air changes (the recorder starts a new run then). */
export function programKey(program: Program<SentStream>): string {
  return [program.video?.id ?? '-', ...program.audio.map((s) => s.id).sort()].join(',');
}
