import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import pino from 'pino';
import type { FeedStats } from '../../../protocol/index.js';
import { DiemcauError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { Peer, ProducerInfo } from '../../room/Peer.js';
import type { Room } from '../../room/Room.js';
import { h264ProfileName } from '../feedInspector.js';
import { FeedProbe } from './FeedProbe.js';
import { planOffer, writeAnswer } from './whipSdp.js';
import { WhipOfferError } from './WhipOfferError.js';

export interface WhipSessionOptions {
  room: Room;
  /** The encoder's SDP offer, as POSTed. */
  offer: string;
  /** The studio peer's identity in the session. */
  identity: string;
  name: string;
  logger?: Logger;
  /** How long the encoder has to connect (ICE and DTLS) after the answer; it connects at once when all is well. */
  connectTimeoutMs?: number;
  /** How long its ICE may stay disconnected (no consent checks) before it is taken off air. */
  disconnectedTimeoutMs?: number;
}

export interface WhipSessionEvents {
  /** The session ended (close(), the encoder's DTLS closed or failed, it never connected or went silent, the studio left), once. */
  close: [reason: string];
}

const statsIntervalMs = 1000;

/**
 * One WHIP encoder (RFC 9725: OBS 30+, a browser, a hardware encoder speaking
 * WebRTC) as the studio of a session: a studio peer in the Room with one
 * WebRtcTransport, ICE-lite on our side, and a producer for each of the
 * offer's audio and video lines. Its SDP answer is ready once start()
 * resolves; it lives until close(), or until its encoder goes away.
 */
export class WhipSession extends EventEmitter<WhipSessionEvents> {
  /** The WHIP resource id (the last part of the Location the encoder DELETEs). */
  readonly id = randomUUID();
  readonly peer: Peer;
  readonly answer: string;
  readonly #room: Room;
  readonly #producers: types.Producer<ProducerInfo>[];
  /** Listens to the encoder's media for what mediasoup does not measure (size, frame rate, sound level); null if it could not start. */
  readonly #probe: FeedProbe | null;
  readonly #log: Logger;
  readonly #statsTimer: NodeJS.Timeout;
  #connectTimer: NodeJS.Timeout | null = null;
  #silenceTimer: NodeJS.Timeout | null = null;
  #stats: FeedStats;
  #closed = false;

  private constructor(options: {
    room: Room;
    peer: Peer;
    transport: types.WebRtcTransport;
    producers: types.Producer<ProducerInfo>[];
    probe: FeedProbe | null;
    answer: string;
    log: Logger;
    connectTimeoutMs: number;
    disconnectedTimeoutMs: number;
  }) {
    super();
    this.#room = options.room;
    this.peer = options.peer;
    this.#producers = options.producers;
    this.#probe = options.probe;
    this.answer = options.answer;
    this.#log = options.log;
    this.#stats = this.#describe(0);
    const transport = options.transport;
    this.#connectTimer = setTimeout(() => this.close('the encoder never connected'), options.connectTimeoutMs);
    transport.on('icestatechange', (state) => {
      if (state === 'connected' || state === 'completed') {
        if (this.#connectTimer) clearTimeout(this.#connectTimer);
        if (this.#silenceTimer) clearTimeout(this.#silenceTimer);
        this.#connectTimer = this.#silenceTimer = null;
      } else if (state === 'disconnected' && !this.#silenceTimer) {
        // ICE-lite hears nothing of a client that left without a word; its consent checks stopping is the sign.
        this.#silenceTimer = setTimeout(() => this.close('the encoder went silent'), options.disconnectedTimeoutMs);
      }
    });
    transport.on('dtlsstatechange', (state) => {
      // A WebRTC encoder that stops sends a DTLS close_notify: that is its goodbye.
      if (state === 'closed') this.close('the encoder stopped');
      else if (state === 'failed') this.close('DTLS failed');
    });
    transport.observer.once('close', () => this.close('its transport closed'));
    this.peer.once('close', (reason) => this.close(`the studio left the session (${reason})`));
    this.#statsTimer = setInterval(() => void this.#refreshStats(), statsIntervalMs);
    this.#statsTimer.unref();
  }

  /**
   * Reads the offer, joins the room as the studio and produces what the
   * encoder sends. A WhipOfferError if the offer cannot be taken (nothing
   * joins then); the session's own refusals (ended, busy) as they come.
   */
  static async start(options: WhipSessionOptions): Promise<WhipSession> {
    const { room } = options;
    const log = (options.logger ?? pino({ level: 'silent' })).child({ session: room.id, feed: options.identity, protocol: 'whip' });
    // Read before joining: a bad offer leaves the session as it was.
    const plan = planOffer(options.offer, room.rtpCapabilities);
    const peer = room.join({ identity: options.identity, name: options.name, role: 'studio' });
    try {
      const transport = await room.createWebRtcTransport(peer, 'send');
      await transport.connect({ dtlsParameters: plan.dtlsParameters }).catch(offerError);
      const producers: types.Producer<ProducerInfo>[] = [];
      for (const { taken } of plan.sections) {
        if (!taken) continue;
        const source = taken.kind === 'audio' ? 'mic' : 'camera';
        producers.push(await room.produce(peer, transport.id, taken.kind, taken.rtpParameters, source).catch(offerError));
      }
      const answer = writeAnswer(plan, transport);
      const router = room.router(peer.slotIndex);
      // The operator's measures are no reason to refuse an encoder: without them its stats say less.
      const probe = router
        ? await FeedProbe.start(
            router,
            producers.find((p) => p.kind === 'video'),
            producers.find((p) => p.kind === 'audio'),
          ).catch((error: unknown) => {
            log.warn({ err: error }, 'the feed probe could not start: no picture size, frame rate or sound level');
            return null;
          })
        : null;
      log.info({ producers: producers.map((p) => `${p.kind}:${p.rtpParameters.codecs[0].mimeType}:${p.type}`) }, 'WHIP encoder answered');
      return new WhipSession({
        room,
        peer,
        transport,
        producers,
        probe,
        answer,
        log,
        connectTimeoutMs: options.connectTimeoutMs ?? 30_000,
        disconnectedTimeoutMs: options.disconnectedTimeoutMs ?? 15_000,
      });
    } catch (error) {
      room.leave(peer, 'the encoder could not go on air');
      throw error;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  get producers(): readonly types.Producer<ProducerInfo>[] {
    return this.#producers;
  }

  /** What the feed carries, refreshed once a second: what mediasoup measures (codec, bitrate), and what the probe reads of the media. */
  get stats(): FeedStats {
    return this.#stats;
  }

  /** Takes the encoder off air: its studio leaves the session (with its transport and producers). */
  close(reason = 'closed'): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#statsTimer);
    this.#probe?.close();
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    if (this.#silenceTimer) clearTimeout(this.#silenceTimer);
    this.#room.leave(this.peer, reason);
    // A peer the room already let go (replaced, session ended) still closes its media.
    this.peer.close(reason);
    this.#log.info({ reason }, 'WHIP encoder off air');
    this.emit('close', reason);
  }

  async #refreshStats(): Promise<void> {
    let bitrate = 0;
    for (const producer of this.#producers) {
      if (producer.closed) continue;
      const stats = await producer.getStats().catch(() => []);
      for (const s of stats) bitrate += s.bitrate;
    }
    if (!this.#closed) this.#stats = this.#describe(bitrate);
  }

  #describe(bitrate: number): FeedStats {
    const video = this.#producers.find((p) => p.kind === 'video')?.rtpParameters.codecs[0];
    const audio = this.#producers.find((p) => p.kind === 'audio')?.rtpParameters.codecs[0];
    const profileLevelId = video?.parameters?.['profile-level-id'] as string | undefined;
    const probed = this.#probe?.reading();
    return {
      videoCodec: video ? video.mimeType.split('/')[1].toLowerCase() : null,
      profile: profileLevelId ? h264ProfileName(parseInt(profileLevelId.slice(0, 2), 16), parseInt(profileLevelId.slice(2, 4), 16)) : null,
      width: probed?.size?.width ?? null,
      height: probed?.size?.height ?? null,
      fps: probed?.fps ?? null,
      keyframeIntervalSeconds: null,
      bitrateKbps: Math.round(bitrate / 1000),
      audioCodec: audio ? audio.mimeType.split('/')[1].toLowerCase() : null,
      audioLevelDb: audio ? (probed?.audioLevelDb ?? null) : null,
      // WebRTC encoders send no B-frames, and the picture is taken as sent.
      bFrames: false,
      transcoding: false,
    };
  }
}

/**
 * mediasoup refusing the offer's parameters (its TypeError or
 * UnsupportedError) is the encoder's news; anything else (a worker gone, a
 * full server) is not.
 */
function offerError(error: unknown): never {
  if (error instanceof DiemcauError) throw error;
  if (error instanceof Error && (error.name === 'TypeError' || error.name === 'UnsupportedError')) {
    throw new WhipOfferError(`the offer's media cannot be taken: ${error.message.slice(0, 300)}`);
  }
  throw error;
}
