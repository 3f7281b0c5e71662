import type { Readable } from 'node:stream';

/** Lines kept of what an ffmpeg printed: enough to say why it failed, bounded however long it runs. */
const keptLines = 20;
/** A longer line is cut: ffmpeg and libsrt lines are short, anything longer is noise. */
const defaultMaxLineLength = 400;

/**
 * Splits an ffmpeg's stderr into lines (ffmpeg ends progress lines with \r),
 * hands each to `onLine` and keeps the last few for error messages. Also
 * reads srt-live-transmit's stderr and statistics.
 */
export class StderrLines {
  /** Resolves once the stream is closed: every line has been seen. */
  readonly done: Promise<void>;
  readonly #tail: string[] = [];
  readonly #maxLineLength: number;
  #partial = '';

  constructor(stream: Readable | null, onLine: (line: string) => void, maxLineLength = defaultMaxLineLength) {
    this.#maxLineLength = maxLineLength;
    this.done = stream && !stream.closed ? new Promise((resolve) => stream.once('close', () => resolve())) : Promise.resolve();
    if (!stream) return;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split(/\r\n|\r|\n/);
      // Bounded even when a peer makes ffmpeg print one endless line.
      this.#partial = (parts.pop() ?? '').slice(0, this.#maxLineLength);
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
    const line = raw.trimEnd().slice(0, this.#maxLineLength);
    if (!line) return;
    this.#tail.push(line);
    if (this.#tail.length > keptLines) this.#tail.shift();
    onLine(line);
  }
}

/**
 * libsrt turning a caller away during the handshake, as Debian's libsrt 1.5
 * logs it on stderr (a warning), e.g.
 * `processConnectRequest: rsp(REJECT): 1010 - Incorrect passphrase` for a
 * wrong passphrase, `1011 - Password required or unexpected` for none.
 */
export function parseSrtRejection(line: string): { code: number; reason: string } | null {
  // Anchored on libsrt's own prefix (`10:58:19.557002/SRT:RcvQ:...`): nothing a caller sends can fake it.
  const match = /^[\d:.]+\/SRT:.*rsp\(REJECT\):\s*(\d+)\s*-\s*(.+)$/.exec(line);
  return match ? { code: Number(match[1]), reason: match[2].trim() } : null;
}

/** One stream of ffmpeg's input dump: `Stream #0:1[0x101]: Audio: aac (LC) ...`. */
export function parseInputStream(line: string): { index: number; type: 'video' | 'audio'; codec: string } | null {
  const match = /^\s*Stream #0:(\d+)\S*: (Video|Audio): ([\w-]+)/.exec(line);
  if (!match) return null;
  return { index: Number(match[1]), type: match[2] === 'Video' ? 'video' : 'audio', codec: match[3] };
}
