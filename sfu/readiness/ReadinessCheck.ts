import type { types } from 'mediasoup';
import type { ReadinessResponseData } from '../../protocol/index.js';
import { ConflictError, DiemcauError } from '../errors.js';
import type { Room } from '../room/Room.js';

type TransportOptions = ReadinessResponseData['readiness.start']['send'];

function optionsOf(t: types.WebRtcTransport): TransportOptions {
  return {
    id: t.id,
    iceParameters: t.iceParameters,
    iceCandidates: t.iceCandidates,
    dtlsParameters: t.dtlsParameters,
  };
}

/**
 * One network check of one point: a send and a receive transport on the
 * session's router that belong to no participant, the page's test picture
 * produced on the first and consumed back on the second (an echo), so the
 * page measures both directions of its own link. Nobody else receives it and
 * the point does not join. It lives at most `maxDurationMs`; close() (the
 * page finished, its socket closed, the time ran out, the session's routers
 * went) closes both transports, and with them the producer and consumer.
 */
export class ReadinessCheck {
  #send: types.WebRtcTransport | undefined;
  #recv: types.WebRtcTransport | undefined;
  #producer: types.Producer | undefined;
  /** Set before the first await of produce(): two produce requests at once would both pass a check of #producer. */
  #producing = false;
  #consumer: types.Consumer | undefined;
  /** What the page can receive: the echo is consumed with it. */
  #rtpCapabilities: types.RtpCapabilities | undefined;
  #closed = false;
  readonly #timer: NodeJS.Timeout;
  readonly #onClose: () => void;

  private constructor(maxDurationMs: number, onClose: () => void) {
    this.#onClose = onClose;
    this.#timer = setTimeout(() => this.close(), maxDurationMs);
    this.#timer.unref();
  }

  /** Opens both transports; `onClose` runs once when the check ends for any reason. */
  static async open(
    room: Room,
    options: { rtpCapabilities: types.RtpCapabilities; maxDurationMs: number; onClose: () => void },
  ): Promise<{ check: ReadinessCheck; response: ReadinessResponseData['readiness.start'] }> {
    const check = new ReadinessCheck(options.maxDurationMs, options.onClose);
    check.#rtpCapabilities = options.rtpCapabilities;
    try {
      check.#adopt('send', await room.createCheckTransport('send'));
      check.#adopt('recv', await room.createCheckTransport('recv'));
    } catch (error) {
      check.close();
      throw error;
    }
    // Closed while the worker created them (socket gone, session ended): nothing to hand out.
    if (check.#closed) throw new ConflictError('the check ended while it was being set up');
    return {
      check,
      response: {
        routerRtpCapabilities: room.rtpCapabilities,
        send: optionsOf(check.#send!),
        recv: optionsOf(check.#recv!),
        maxDurationMs: options.maxDurationMs,
      },
    };
  }

  get closed(): boolean {
    return this.#closed;
  }

  #adopt(direction: 'send' | 'recv', transport: types.WebRtcTransport): void {
    if (this.#closed) {
      transport.close();
      return;
    }
    if (direction === 'send') this.#send = transport;
    else this.#recv = transport;
    // The session's routers closed (ended, media restart): the check goes with them.
    transport.observer.once('close', () => this.close());
  }

  async connect(transportId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    const transport = [this.#send, this.#recv].find((t) => t?.id === transportId);
    if (!transport || this.#closed) throw new DiemcauError('not-found', `no transport ${transportId} in this check`);
    await transport.connect({ dtlsParameters });
  }

  /** Produces the test picture and consumes it back, paused until the page has its consumer ready. */
  async produce(rtpParameters: types.RtpParameters): Promise<ReadinessResponseData['readiness.produce']> {
    if (this.#closed || !this.#send || !this.#recv) throw new ConflictError('the check has ended: run it again');
    if (this.#producer || this.#producing) throw new ConflictError('the check already sends its picture');
    this.#producing = true;
    let producer: types.Producer;
    try {
      producer = await this.#send.produce({ kind: 'video', rtpParameters });
    } finally {
      // Refused parameters leave the check able to try again with better ones.
      this.#producing = false;
    }
    this.#producer = producer;
    if (this.#closed) throw new ConflictError('the check has ended: run it again');
    let consumer: types.Consumer;
    try {
      consumer = await this.#recv.consume({ producerId: producer.id, rtpCapabilities: this.#rtpCapabilities!, paused: true });
    } catch (error) {
      // No echo possible (the page cannot receive what it sends): drop the picture so a retry is not refused as a second one.
      producer.close();
      this.#producer = undefined;
      throw error;
    }
    this.#consumer = consumer;
    return {
      producerId: producer.id,
      consumer: {
        id: consumer.id,
        producerId: producer.id,
        kind: 'video',
        rtpParameters: consumer.rtpParameters,
      },
    };
  }

  async resume(): Promise<void> {
    if (this.#closed || !this.#consumer) throw new ConflictError('the check has no picture to send back');
    await this.#consumer.resume();
    // A keyframe at once: the page decodes (and counts) the echo from its first second.
    await this.#consumer.requestKeyFrame().catch(() => undefined);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#send?.close();
    this.#recv?.close();
    this.#onClose();
  }
}
