import WebSocket from 'ws';
import type { NotificationMessage, ReplyMessage } from '../../protocol/index.js';

/** A bare signaling client: sends raw frames and collects what comes back. */
export class RawSignaling {
  readonly ws: WebSocket;
  readonly replies: ReplyMessage[] = [];
  readonly notifications: NotificationMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #nextId = 1;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (data) => {
      const message = JSON.parse((data as Buffer).toString('utf8')) as NotificationMessage | ReplyMessage;
      if ('notification' in message) this.notifications.push(message);
      else this.replies.push(message);
    });
    this.closed = new Promise((resolve) => this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState === WebSocket.OPEN) return resolve();
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  /** Sends a raw frame and waits for the reply with `expectId` (-1 for unparseable frames). */
  async raw(frame: string | Buffer, expectId: number): Promise<ReplyMessage> {
    const seen = this.replies.length;
    this.ws.send(frame);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const reply = this.replies.slice(seen).find((r) => r.id === expectId);
      if (reply) return reply;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no reply to ${String(frame).slice(0, 80)}`);
  }

  request(method: string, data?: unknown): Promise<ReplyMessage> {
    const id = this.#nextId++;
    return this.raw(JSON.stringify({ id, method, data }), id);
  }

  close(): void {
    this.ws.close();
  }
}
