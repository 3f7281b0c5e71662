import type { types } from 'mediasoup';
import { clampLevelDb } from '../audioLevel.js';
import { PictureMeter, type PictureSize } from './rtpPicture.js';

/** The header extension in which WebRTC senders write each audio packet's level (RFC 6464). */
export const audioLevelUri = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

/**
 * A picture with no size yet is asked for a keyframe (its SPS or header says
 * the size) this often, a few times at most: each is a costly picture for
 * the encoder's link, and an encoder whose size cannot be read (an SPS split
 * across packets) would otherwise be asked forever.
 */
const keyframeRetryMs = 5000;
const keyframeRetries = 3;

/** What the probe hears of the encoder: its picture's size and frame rate, its sound's level. */
export interface FeedProbeReading {
  size: PictureSize | null;
  fps: number | null;
  /** dBov over the last second (floored at -90); null when the encoder does not write levels (or sends no sound). */
  audioLevelDb: number | null;
}

/**
 * What a WHIP encoder's media says of itself, for the operator: mediasoup
 * measures bitrates, not pictures, so the probe listens itself.
 *
 * The picture: a consumer of the encoder's video on a DirectTransport (its
 * RTP comes to this process; ~one message per packet, a few hundred a
 * second for a 720p feed), read by PictureMeter without decoding. Of a
 * simulcast picture it takes the top layer (the consumer prefers it, and
 * with no bandwidth estimate on a DirectTransport it gets it): the size
 * shown is the encoder's picture, what the recording and most points get,
 * not its 1/4 copy for weak links. Creating the consumer asks the encoder
 * for a keyframe (one, at the start), so the size is known at once.
 *
 * The sound: an AudioLevelObserver of its own on the router (the session's
 * one keeps only the loudest voice on air), fed the levels the encoder
 * writes in its packets — browsers and OBS do when the offer has the
 * extension; without it the level is null. Nothing is decoded.
 *
 * Both live on the studio's router and close with it, or with close().
 */
export class FeedProbe {
  readonly #transport: types.DirectTransport | null;
  readonly #consumer: types.Consumer | null;
  readonly #observer: types.AudioLevelObserver | null;
  readonly #meter: PictureMeter | null;
  readonly #keyframeTimer: NodeJS.Timeout | null;
  #audioLevelDb: number | null = null;
  #closed = false;

  private constructor(parts: {
    transport: types.DirectTransport | null;
    consumer: types.Consumer | null;
    observer: types.AudioLevelObserver | null;
    meter: PictureMeter | null;
  }) {
    this.#transport = parts.transport;
    this.#consumer = parts.consumer;
    this.#observer = parts.observer;
    this.#meter = parts.meter;
    const { consumer, meter, observer } = parts;
    if (consumer && meter) {
      consumer.on('rtp', (packet) => meter.packet(packet, Date.now()));
      // The first keyframe's SPS lost, or an encoder that ignored the request: ask again while the size is unknown.
      let retries = 0;
      const timer = setInterval(() => {
        if (meter.size || consumer.closed || ++retries > keyframeRetries) clearInterval(timer);
        else consumer.requestKeyFrame().catch(() => {});
      }, keyframeRetryMs);
      this.#keyframeTimer = timer;
      this.#keyframeTimer.unref();
    } else this.#keyframeTimer = null;
    if (observer) {
      observer.on('volumes', (volumes) => (this.#audioLevelDb = clampLevelDb(volumes[0]?.volume ?? -Infinity)));
      // Fewer than 10 packets a second (DTX: an encoder sending silence sends almost nothing): silence.
      observer.on('silence', () => (this.#audioLevelDb = clampLevelDb(-Infinity)));
    }
  }

  /** Starts listening to the encoder's `video` and `audio` producers (either may be absent) on their `router`. */
  static async start(router: types.Router, video: types.Producer | undefined, audio: types.Producer | undefined): Promise<FeedProbe> {
    let transport: types.DirectTransport | null = null;
    let consumer: types.Consumer | null = null;
    let observer: types.AudioLevelObserver | null = null;
    let meter: PictureMeter | null = null;
    try {
      const codec = video?.rtpParameters.codecs[0]?.mimeType.toLowerCase();
      if (video && (codec === 'video/h264' || codec === 'video/vp8')) {
        meter = new PictureMeter(codec === 'video/h264' ? 'h264' : 'vp8');
        transport = await router.createDirectTransport();
        // A simulcast consumer prefers the top layers unless told otherwise.
        consumer = await transport.consume({ producerId: video.id, rtpCapabilities: router.rtpCapabilities });
      }
      if (audio && (audio.rtpParameters.headerExtensions ?? []).some((h) => h.uri === audioLevelUri)) {
        // Every producer reported (threshold at the bottom of the scale), once a second.
        observer = await router.createAudioLevelObserver({ maxEntries: 1, threshold: -127, interval: 1000 });
        await observer.addProducer({ producerId: audio.id });
      }
    } catch (error) {
      transport?.close();
      observer?.close();
      throw error;
    }
    return new FeedProbe({ transport, consumer, observer, meter });
  }

  reading(nowMs = Date.now()): FeedProbeReading {
    if (this.#closed) return { size: null, fps: null, audioLevelDb: null };
    const live = this.#consumer !== null && !this.#consumer.closed;
    return {
      size: live ? (this.#meter?.size ?? null) : null,
      fps: live ? (this.#meter?.fps(nowMs) ?? null) : null,
      audioLevelDb: this.#observer && !this.#observer.closed ? this.#audioLevelDb : null,
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#keyframeTimer) clearInterval(this.#keyframeTimer);
    this.#transport?.close();
    this.#observer?.close();
  }
}
