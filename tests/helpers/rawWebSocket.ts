/**
 * A WebSocket client made by hand on a raw TCP socket, for attacks: it writes
 * whatever bytes a test builds (frames the `ws` library would never send) and
 * reads the server's frames only when asked to, so a test can play a client
 * that never reads its replies.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';

export const opcodes = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface FrameSpec {
  opcode: number;
  payload?: Buffer | string;
  fin?: boolean;
  /** RSV1..RSV3 as bits 0b100, 0b010, 0b001. */
  rsv?: number;
  /** Clients must mask; false sends an unmasked frame. */
  mask?: boolean;
  /** The length the header announces, when it should lie about the payload. */
  announcedLength?: bigint;
}

/** One WebSocket frame as bytes (RFC 6455 §5.2), correct or not as the spec says. */
export function frame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload, 'utf8') : (spec.payload ?? Buffer.alloc(0));
  const length = spec.announcedLength ?? BigInt(payload.length);
  const mask = spec.mask ?? true;
  const first = ((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | (spec.opcode & 0x0f);
  let header: Buffer;
  if (length < 126n) {
    header = Buffer.from([first, Number(length)]);
  } else if (length < 65536n) {
    header = Buffer.alloc(4);
    header.writeUInt16BE(Number(length), 2);
    header[1] = 126;
  } else {
    header = Buffer.alloc(10);
    header.writeBigUInt64BE(length, 2);
    header[1] = 127;
  }
  header[0] = first;
  if (!mask) return Buffer.concat([header, payload]);
  header[1] |= 0x80;
  const key = randomBytes(4);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i] ^= key[i % 4];
  return Buffer.concat([header, key, masked]);
}

/** A masked text frame, as a well-behaved client sends it. */
export const textFrame = (text: string) => frame({ opcode: opcodes.text, payload: text });

export function upgradeRequest(url: string): Buffer {
  const { host, pathname, search } = new URL(url);
  return Buffer.from(
    `GET ${pathname}${search} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
}

export interface ServerFrame {
  opcode: number;
  payload: Buffer;
}

/**
 * A raw connection to `ws://…/ws?token=…`. The upgrade request goes out at
 * once, with `first` right behind it in the same write (so frames can reach
 * the server before it has even checked the token).
 */
export class RawWebSocket {
  readonly socket: net.Socket;
  readonly connected: Promise<void>;
  readonly #frames: ServerFrame[] = [];
  #waiters: (() => void)[] = [];
  #buffer = Buffer.alloc(0);
  #upgraded = false;
  #ended = false;
  status?: number;

  constructor(url: string, first: Buffer = Buffer.alloc(0)) {
    const { hostname, port } = new URL(url);
    this.socket = net.connect({ host: hostname, port: Number(port) });
    // An attacker does not care whether its socket errors; the test reads what it needs from events.
    this.socket.on('error', () => {});
    this.socket.once('close', () => {
      this.#ended = true;
      this.#wake();
    });
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.write(Buffer.concat([upgradeRequest(url), first]));
  }

  write(bytes: Buffer): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      // Waits for the kernel to take the bytes (a flood must not pile up in this process), or for the end.
      if (this.socket.write(bytes)) return resolve();
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  /**
   * Sends `count` frames made by `frameOf`, a thousand at a time, each batch
   * once the kernel took the one before: the flood stays in the kernel's and
   * the server's buffers, not in this process. Stops when the socket ends.
   * Between batches it lets this process's event loop turn: while the server
   * reads as fast as it is sent to, every write is taken at once, and a loop
   * of them alone would keep this socket's (and every other socket's) close
   * from ever being noticed.
   */
  async flood(frameOf: (n: number) => Buffer, count: number): Promise<void> {
    const perWrite = 1000;
    for (let sent = 0; sent < count && !this.#ended && !this.socket.destroyed; sent += perWrite) {
      await this.write(Buffer.concat(Array.from({ length: Math.min(perWrite, count - sent) }, (_, i) => frameOf(sent + i))));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Starts reading what the server sent (until now the replies wait in the kernel's buffers). */
  read(): void {
    if (this.socket.listenerCount('data') > 0) return;
    this.socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#parse();
      this.#wake();
    });
  }

  /** Stops reading: what the server sends from now on waits in the kernel's buffers, then in the server's. */
  stopReading(): void {
    this.socket.removeAllListeners('data');
    this.socket.pause();
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Every frame read so far. */
  get frames(): readonly ServerFrame[] {
    return this.#frames;
  }

  /** Waits until `test` holds on what was read, or the socket ends, or `timeoutMs` passes; returns whether it held. */
  async until(test: () => boolean, timeoutMs: number): Promise<boolean> {
    this.read();
    const deadline = Date.now() + timeoutMs;
    while (!test()) {
      if (this.#ended || Date.now() > deadline) return test();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  /** The close frame's code once the server sent one. */
  closeCode(): number | undefined {
    const close = this.#frames.find((f) => f.opcode === opcodes.close);
    return close && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : undefined;
  }

  /** Text messages read so far, parsed as JSON. */
  messages(): unknown[] {
    return this.#frames.filter((f) => f.opcode === opcodes.text).map((f) => JSON.parse(f.payload.toString('utf8')) as unknown);
  }

  destroy(): void {
    this.socket.destroy();
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  #parse(): void {
    if (!this.#upgraded) {
      const end = this.#buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.status = Number(/^HTTP\/1\.1 (\d+)/.exec(this.#buffer.subarray(0, end).toString('latin1'))?.[1]);
      this.#buffer = this.#buffer.subarray(end + 4);
      this.#upgraded = true;
    }
    // Servers do not mask and (ws) do not fragment what this test reads.
    while (this.#buffer.length >= 2) {
      const opcode = this.#buffer[0] & 0x0f;
      let length = this.#buffer[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.#buffer.length < 4) return;
        length = this.#buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.#buffer.length < 10) return;
        length = Number(this.#buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.#buffer.length < offset + length) return;
      this.#frames.push({ opcode, payload: Buffer.from(this.#buffer.subarray(offset, offset + length)) });
      this.#buffer = this.#buffer.subarray(offset + length);
    }
  }
}
