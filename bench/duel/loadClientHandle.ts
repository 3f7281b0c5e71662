/** The parent's side of the duel's load client process (loadClient.ts). */
import { IpcChild, type WithoutId } from '../ipcChild.js';
import type { LoadReport, LoadRequest, OpenResult } from './loadClient.js';

type Body<T extends LoadRequest['type']> = Extract<WithoutId<LoadRequest>, { type: T }>;

export class LoadClient {
  readonly #ipc = new IpcChild<WithoutId<LoadRequest>>('the load client', new URL('./loadClient.ts', import.meta.url));

  get pid(): number | undefined {
    return this.#ipc.pid;
  }

  open(body: Body<'open'>, timeoutMs: number): Promise<OpenResult> {
    return this.#ipc.request<OpenResult>(body, timeoutMs);
  }

  mark(): Promise<number> {
    return this.#ipc.request<number>({ type: 'mark' }, 10_000);
  }

  report(): Promise<LoadReport> {
    return this.#ipc.request<LoadReport>({ type: 'report' }, 10_000);
  }

  close(): Promise<void> {
    return this.#ipc.close({ type: 'close' }, 8000);
  }
}
