/**
 * The bare pages' signaling: one WebSocket to the bare SFU, one JSON
 * request / response at a time per call (see ../BareSfu.ts).
 */
export class BareSignaling {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, { resolve(data: unknown): void; reject(error: Error): void }>();
  #next = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.addEventListener('message', (event: MessageEvent<string>) => {
      const reply = JSON.parse(event.data) as { id: number; ok: boolean; data?: unknown; error?: string };
      const pending = this.#pending.get(reply.id);
      if (!pending) return;
      this.#pending.delete(reply.id);
      if (reply.ok) pending.resolve(reply.data);
      else pending.reject(new Error(reply.error ?? 'request failed'));
    });
    socket.addEventListener('close', () => {
      for (const pending of this.#pending.values()) pending.reject(new Error('signaling closed'));
      this.#pending.clear();
    });
  }

  /** Opens the WebSocket of the page's own server. */
  static open(): Promise<BareSignaling> {
    const socket = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws`);
    return new Promise((resolve, reject) => {
      socket.addEventListener('open', () => resolve(new BareSignaling(socket)), { once: true });
      socket.addEventListener('error', () => reject(new Error('signaling did not open')), { once: true });
    });
  }

  request<T>(method: string, data: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: (data) => resolve(data as T), reject });
      this.#socket.send(JSON.stringify({ id, method, data }));
    });
  }

  close(): void {
    this.#socket.close();
  }
}
