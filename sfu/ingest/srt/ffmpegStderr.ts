import type { Readable } from 'node:stream';

/** Lines kept of what an ffmpeg printed: enough to say why it failed, bounded however long it runs. */
const keptLines = 20;
/** A longer line is cut: ffmpeg and libsrt lines are short, anything longer is noise. */
const maxLineLength = 400;

/**
 * Splits an ffmpeg's stderr into lines (ffmpeg ends progress lines with \r),
 * hands each to `onLine` and keeps the last few for error messages.
 */
export class StderrLines {
  /** Resolves once the stream is closed: every line has been seen. */
  readonly done: Promise<void>;
  readonly #tail: string[] = [];
  #partial = '';

  constructor(stream: Readable | null, onLine: (line: string) => void) {
    this.done = stream && !stream.closed ? new Promise((resolve) => stream.once('close', () => resolve())) : Promise.resolve();
    if (!stream) return;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split(/\r\n|\r|\n/);
      // Bounded even when a peer makes ffmpeg print one endless line.
      this.#partial = (parts.pop() ?? '').slice(0, maxLineLength);
      for (const part of parts) this.#line(part, onLine);
    });
    stream.on('end', () => {
      if (this.#partial) this.#line(this.#partial, onLine);
      this.#partial = '';
    });
  }

  /** The last lines printed, oldest first. */
  get tail(): string[] {
    return [...this.#tail];
  }

  /** The last non-empty line, usually ffmpeg's reason for exiting. */
  get last(): string {
    return this.#tail.at(-1) ?? '';
  }

  #line(raw: string, onLine: (line: string) => void): void {
    const line = raw.trimEnd().slice(0, maxLineLength);
    if (!line) return;
    this.#tail.push(line);
    if (this.#tail.length > keptLines) this.#tail.shift();
    onLine(line);
  }
}

/**
 * libsrt turning a caller away during the handshake, as Debian's libsrt 1.5
 * logs it on stderr whatever ffmpeg's log level (its own logger), e.g.
 * `processConnectRequest: rsp(REJECT): 1010 - Incorrect passphrase` for a
 * wrong passphrase, `1011 - Password required or unexpected` for none.
 */
export function parseSrtRejection(line: string): { code: number; reason: string } | null {
  // Anchored on libsrt's own prefix (`10:58:19.557002/SRT:RcvQ:...`): a caller's metadata printed by ffmpeg cannot fake it.
  const match = /^[\d:.]+\/SRT:.*rsp\(REJECT\):\s*(\d+)\s*-\s*(.+)$/.exec(line);
  return match ? { code: Number(match[1]), reason: match[2].trim() } : null;
}

/** ffmpeg (log level verbose) accepted a caller: `accept streamid [<id>], length <n>`. */
export function parseAcceptedStreamId(line: string): string | null {
  const match = /accept streamid \[(.*)\], length \d+$/.exec(line);
  return match ? match[1] : null;
}

/** One stream of ffmpeg's input dump: `Stream #0:1[0x101]: Audio: aac (LC) ...`. */
export function parseInputStream(line: string): { index: number; type: 'video' | 'audio'; codec: string } | null {
  const match = /^\s*Stream #0:(\d+)\S*: (Video|Audio): ([\w-]+)/.exec(line);
  if (!match) return null;
  return { index: Number(match[1]), type: match[2] === 'Video' ? 'video' : 'audio', codec: match[3] };
}

/** The port to listen on is taken (libsrt's bind failing). */
export function isAddressInUse(line: string): boolean {
  return /Address already in use/i.test(line);
}
