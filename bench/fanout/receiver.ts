import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ReceiverRequest } from './receiverProcess.js';

/** The receiver process: its sockets' ports, and requests to it over IPC. */
export class Receiver {
  readonly child: ChildProcess;
  ports: number[] = [];
  #nextId = 1;
  readonly #pending = new Map<number, (data: unknown) => void>();

  constructor() {
    this.child = fork(fileURLToPath(new URL('./receiverProcess.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('error', () => {}); // a send after close: the request below fails by itself
    this.child.on('message', (m: { id: number; data: unknown }) => {
      this.#pending.get(m.id)?.(m.data);
      this.#pending.delete(m.id);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  request<T>(req: Omit<ReceiverRequest, 'id'> & Partial<ReceiverRequest>, timeoutMs = 30_000): Promise<T> {
    const id = this.#nextId++;
    if (!this.child.connected) return Promise.reject(new Error('the receiver process is gone'));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`receiver did not answer ${req.type}`));
      }, timeoutMs);
      this.#pending.set(id, (data) => {
        clearTimeout(timer);
        resolve(data as T);
      });
      this.child.send({ ...req, id });
    });
  }

  async bind(count: number): Promise<number[]> {
    this.ports = await this.request<number[]>({ type: 'bind', count, recvBufferSize: 1 << 20 } as never);
    return this.ports;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode) return;
    await this.request({ type: 'close' }, 3000).catch(() => {});
    await new Promise<void>((resolve) => {
      if (this.child.exitCode !== null) return resolve();
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
