/**
 * A bench's helper process — a `.ts` file forked with tsx — and requests to
 * it over IPC: `{ ...request, id }` goes out, `{ id, data }` comes back.
 * The benches keep their receivers in such processes so that the sockets
 * they measure do not share an event loop with the server under test.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The helper process did not answer in time, or is gone. */
export class IpcChildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IpcChildError';
  }
}

/** A request as the caller writes it: without the id, which IpcChild adds (for each member of a union). */
export type WithoutId<R> = R extends unknown ? Omit<R, 'id'> : never;

export class IpcChild<Request extends { type: string }> {
  readonly #child: ChildProcess;
  readonly #name: string;
  #nextId = 1;
  readonly #pending = new Map<number, (data: unknown) => void>();

  /** `name` says what the process is, in errors ("the load client"). */
  constructor(name: string, file: URL) {
    this.#name = name;
    this.#child = fork(fileURLToPath(file), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#child.on('error', () => {}); // a send after close: that request fails by itself
    this.#child.on('message', (m: { id: number; data: unknown }) => {
      this.#pending.get(m.id)?.(m.data);
      this.#pending.delete(m.id);
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  request<T>(request: Request, timeoutMs: number): Promise<T> {
    const id = this.#nextId++;
    if (!this.#child.connected) return Promise.reject(new IpcChildError(`${this.#name} is gone`));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new IpcChildError(`${this.#name} did not answer ${request.type} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, (data) => {
        clearTimeout(timer);
        resolve(data as T);
      });
      this.#child.send({ ...request, id });
    });
  }

  /** Asks the process to close (`request`), then kills it if it has not exited 2 s later. */
  async close(request: Request, timeoutMs: number): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode) return;
    await this.request(request, timeoutMs).catch(() => {});
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode) return resolve();
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 2000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
