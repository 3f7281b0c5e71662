import { IpcChild, type WithoutId } from '../ipcChild.js';
import type { ReceiverRequest } from './receiverProcess.js';

/** The receiver process: its sockets' ports, and requests to it over IPC. */
export class Receiver {
  ports: number[] = [];
  readonly #ipc = new IpcChild<WithoutId<ReceiverRequest>>('the receiver process', new URL('./receiverProcess.ts', import.meta.url));

  get pid(): number {
    return this.#ipc.pid!;
  }

  request<T>(req: WithoutId<ReceiverRequest>, timeoutMs = 30_000): Promise<T> {
    return this.#ipc.request<T>(req, timeoutMs);
  }

  async bind(count: number): Promise<number[]> {
    this.ports = await this.request<number[]>({ type: 'bind', count, recvBufferSize: 1 << 20 });
    return this.ports;
  }

  close(): Promise<void> {
    return this.#ipc.close({ type: 'close' }, 3000);
  }
}
