import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A named pipe srt-live-transmit writes its statistics to (`-statsout:`).
 * Its stdout carries the caller's MPEG-TS, and Node's stdio pipes are
 * socket pairs, which it cannot open by /dev/fd/N; a regular file would grow
 * for as long as the caller stays. The pipe is opened read-write and
 * non-blocking: opening it waits for no writer, and reading it ties up no
 * thread of libuv's pool.
 */
export class StatsFifo {
  readonly path: string;
  /** The statistics, as srt-live-transmit writes them. */
  readonly stream: net.Socket;
  readonly #dir: string;
  #removed = false;
  #closed = false;

  /** A fresh named pipe in its own private folder, or null when none can be made (the caller is then received without statistics). */
  static open(): StatsFifo | null {
    let dir: string | undefined;
    try {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-srt-'));
      const fifo = path.join(dir, 'stats');
      // Node has no mkfifo; once per caller, a few milliseconds.
      const made = spawnSync('mkfifo', ['-m', '600', fifo], { stdio: 'ignore' });
      if (made.status !== 0) throw new Error('mkfifo failed');
      const fd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
      return new StatsFifo(dir, fifo, new net.Socket({ fd, readable: true, writable: false }));
    } catch {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
      return null;
    }
  }

  private constructor(dir: string, fifo: string, stream: net.Socket) {
    this.#dir = dir;
    this.path = fifo;
    this.stream = stream;
    // Errors end the statistics, not the caller's program.
    stream.on('error', () => {});
  }

  /**
   * Removes the pipe's name once srt-live-transmit has opened it (it does
   * so first thing, before it binds its port): the open ends keep working,
   * and a server killed outright leaves nothing in the temporary folder.
   */
  removePath(): void {
    if (this.#removed) return;
    this.#removed = true;
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }

  /** Stops reading (the pipe never ends by itself: this end holds it open for writing too) and removes it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.stream.destroy();
    this.removePath();
  }
}
