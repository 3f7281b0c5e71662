/**
 * A signaling client for attack tests, on the `ws` library: every wait is on
 * an event (a reply, the close), never on a timer.
 */
import WebSocket from 'ws';
import type { ReplyMessage } from '../../protocol/index.js';

export interface Closed {
  code: number;
  reason: string;
}

export class SignalingProbe {
  readonly ws: WebSocket;
  readonly closed: Promise<Closed>;
  /** Every reply, by id (-1 for requests without a valid id). */
  readonly replies = new Map<number, ReplyMessage[]>();
  readonly notifications: { notification: string; data: unknown }[] = [];
  #closedWith?: Closed;
  readonly #waiting = new Map<number, { resolve(reply: ReplyMessage): void; reject(error: Error): void }>();
  #onNotification = new Set<() => void>();
  #nextId = 1;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('error', () => {});
    this.ws.on('message', (data, isBinary) => {
      if (isBinary) throw new Error('the server sent a binary frame');
      const message = JSON.parse((data as Buffer).toString('utf8')) as ReplyMessage | { notification: string; data: unknown };
      if ('notification' in message) {
        this.notifications.push(message);
        for (const check of this.#onNotification) check();
        return;
      }
      const list = this.replies.get(message.id) ?? [];
      list.push(message);
      this.replies.set(message.id, list);
      this.#waiting.get(message.id)?.resolve(message);
      this.#waiting.delete(message.id);
    });
    this.closed = new Promise((resolve) =>
      this.ws.once('close', (code, reason) => {
        this.#closedWith = { code, reason: reason.toString() };
        for (const waiter of this.#waiting.values()) waiter.reject(new Error(`closed with ${code} before the reply`));
        this.#waiting.clear();
        resolve(this.#closedWith);
      }),
    );
  }

  /** Opens a probe; resolves once open, or rejects with the close if the server refuses it. */
  static async open(url: string): Promise<SignalingProbe> {
    const probe = new SignalingProbe(url);
    await new Promise<void>((resolve, reject) => {
      probe.ws.once('open', () => resolve());
      void probe.closed.then((c) => reject(new Error(`refused: ${c.code} ${c.reason}`)));
    });
    return probe;
  }

  get closedWith(): Closed | undefined {
    return this.#closedWith;
  }

  /** Resolves with the first notification (received so far or later) that matches. */
  notified(notification: string, matches: (data: unknown) => boolean = () => true): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.notifications.find((n) => n.notification === notification && matches(n.data));
        if (!found) return;
        this.#onNotification.delete(check);
        resolve(found.data);
      };
      this.#onNotification.add(check);
      check();
      void this.closed.then((c) => {
        this.#onNotification.delete(check);
        reject(new Error(`closed with ${c.code} before '${notification}'`));
      });
    });
  }

  /** Sends a request and resolves with its reply; rejects if the socket closes first. */
  request(method: string, data?: unknown): Promise<ReplyMessage> {
    const id = this.#nextId++;
    return this.send(JSON.stringify({ id, method, data }), id);
  }

  /** Sends a raw text or binary frame and waits for the reply with `id`. */
  send(frame: string | Buffer, id: number): Promise<ReplyMessage> {
    if (this.#closedWith) return Promise.reject(new Error(`closed with ${this.#closedWith.code}`));
    const reply = new Promise<ReplyMessage>((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
    this.ws.send(frame);
    return reply;
  }

  /** The next id request() would use (for tests that build frames themselves). */
  takeId(): number {
    return this.#nextId++;
  }

  close(): Promise<Closed> {
    this.ws.close();
    return this.closed;
  }
}
