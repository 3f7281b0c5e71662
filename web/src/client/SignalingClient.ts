import type { ErrorCode, NotificationMessage, ReplyMessage, RequestData, RequestMethod, ResponseData } from '@protocol';
import { Emitter } from './Emitter';

/** A request the server answered with a typed error: pages say it by its code; the server's message is for the browser's console. */
export class RequestError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

export type SignalingEvents = {
  notification: [message: NotificationMessage];
  close: [code: number, reason: string];
};

/** One WebSocket to the SFU: typed requests with replies, and notifications. */
export class SignalingClient extends Emitter<SignalingEvents> {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  readonly opened: Promise<void>;

  constructor(url: string) {
    super();
    this.#ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.#ws.addEventListener('open', () => resolve(), { once: true });
      this.#ws.addEventListener('close', (e) => reject(new RequestError('internal', e.reason || 'connection closed')), {
        once: true,
      });
    });
    this.opened.catch(() => {});
    this.#ws.addEventListener('message', (event) => this.#onMessage(String(event.data)));
    this.#ws.addEventListener('close', (event) => {
      for (const { reject } of this.#pending.values()) reject(new RequestError('internal', 'connection closed'));
      this.#pending.clear();
      this.emit('close', event.code, event.reason);
    });
  }

  request<M extends RequestMethod>(method: M, data: RequestData<M>, timeoutMs = 15_000): Promise<ResponseData[M]> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new RequestError('internal', `${method} timed out`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as ResponseData[M]);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      if (this.#ws.readyState !== WebSocket.OPEN) {
        this.#pending.get(id)!.reject(new RequestError('internal', 'not connected'));
        this.#pending.delete(id);
        return;
      }
      this.#ws.send(JSON.stringify({ id, method, data }));
    });
  }

  /** The socket is open: requests can be sent. */
  get isOpen(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  close(): void {
    this.#ws.close();
  }

  #onMessage(text: string): void {
    const message = JSON.parse(text) as ReplyMessage | NotificationMessage;
    if ('notification' in message) {
      this.emit('notification', message);
      return;
    }
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    this.#pending.delete(message.id);
    if (message.ok) pending.resolve(message.data);
    else pending.reject(new RequestError(message.error.code, message.error.message));
  }
}
