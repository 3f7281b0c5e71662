/** The parent's side of the duel's load client process (loadClient.ts): fork, requests over IPC, close. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadReport, LoadRequest, OpenResult } from './loadClient.js';

/** The load client did not answer in time or is gone. */
export class LoadClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoadClientError';
  }
}

type Body<T extends LoadRequest['type']> = Omit<Extract<LoadRequest, { type: T }>, 'id'>;

export class LoadClient {
  readonly child: ChildProcess;
  #nextId = 1;
  readonly #pending = new Map<number, (data: unknown) => void>();

  constructor() {
    this.child = fork(fileURLToPath(new URL('./loadClient.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('error', () => {}); // a send after close: the request fails by itself
    this.child.on('message', (m: { id: number; data: unknown }) => {
      this.#pending.get(m.id)?.(m.data);
      this.#pending.delete(m.id);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  #request<T>(req: Omit<LoadRequest, 'id'>, timeoutMs: number): Promise<T> {
    const id = this.#nextId++;
    if (!this.child.connected) return Promise.reject(new LoadClientError('the load client is gone'));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new LoadClientError(`the load client did not answer ${req.type} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, (data) => {
        clearTimeout(timer);
        resolve(data as T);
      });
      this.child.send({ ...req, id });
    });
  }

  open(body: Body<'open'>, timeoutMs: number): Promise<OpenResult> {
    return this.#request<OpenResult>(body, timeoutMs);
  }

  mark(): Promise<number> {
    return this.#request<number>({ type: 'mark' }, 10_000);
  }

  report(): Promise<LoadReport> {
    return this.#request<LoadReport>({ type: 'report' }, 10_000);
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode) return;
    await this.#request({ type: 'close' }, 8000).catch(() => {});
    await new Promise<void>((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode) return resolve();
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        resolve();
      }, 2000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
