/**
 * A Janus 1.1 gateway of its own for the duel: a temporary config folder with
 * only the streaming plugin and the HTTP transport loaded, one RTP mountpoint
 * (H.264 PT 96 + Opus PT 111) fed by the duel's ffmpeg, ICE only on the
 * address of the bench's network namespace (Janus gathers nothing on `lo`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const janusVideoPt = 96;
export const janusAudioPt = 111;
export const janusMountpointId = 1;

const libDir = '/usr/lib/x86_64-linux-gnu/janus';

export interface JanusServerOptions {
  /** The namespace's address: Janus's only ICE candidate. */
  iceAddress: string;
  httpPort: number;
  videoPort: number;
  audioPort: number;
  /** Where the mountpoint's RTP ports bind (ffmpeg sends there). */
  rtpBindAddress?: string;
}

/** Janus did not start or did not answer its HTTP API in time. */
export class JanusStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JanusStartError';
  }
}

/** The Janus process and its temporary config folder. */
export class JanusServer {
  readonly url: string;
  readonly #dir: string;
  #child: ChildProcess | undefined;
  readonly #log: string[] = [];

  constructor(readonly options: JanusServerOptions) {
    this.url = `http://127.0.0.1:${options.httpPort}/janus`;
    this.#dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-duel-janus-'));
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Last lines Janus printed (for a failure report). */
  get log(): string {
    return this.#log.slice(-30).join('\n');
  }

  /** Writes the config and starts Janus; resolves once `GET /janus/info` answers. */
  async start(timeoutMs = 15_000): Promise<void> {
    this.#writeConfig();
    const child = spawn('janus', ['-C', path.join(this.#dir, 'janus.jcfg'), '-F', this.#dir, '--debug-level=3', '--disable-colors'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) this.#log.push(line);
      if (this.#log.length > 500) this.#log.splice(0, this.#log.length - 200);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (child.exitCode !== null) throw new JanusStartError(`janus exited with ${child.exitCode}:\n${this.log}`);
      try {
        const res = await fetch(`${this.url}/info`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new JanusStartError(`janus did not answer on ${this.url} in ${timeoutMs} ms:\n${this.log}`);
  }

  async close(): Promise<void> {
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }

  #writeConfig(): void {
    const { iceAddress, httpPort, videoPort, audioPort } = this.options;
    const bind = this.options.rtpBindAddress ?? '127.0.0.1';
    const plugins = fs.readdirSync(path.join(libDir, 'plugins')).filter((f) => f.endsWith('.so') && f !== 'libjanus_streaming.so');
    const transports = fs.readdirSync(path.join(libDir, 'transports')).filter((f) => f.endsWith('.so') && f !== 'libjanus_http.so');
    const list = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.so')) : []);
    // Janus's defaults except where noted: what an installer would leave as it is.
    const janus = `general: {
  configs_folder = "${this.#dir}"
  plugins_folder = "${libDir}/plugins"
  transports_folder = "${libDir}/transports"
  events_folder = "${libDir}/events"
  loggers_folder = "${libDir}/loggers"
  debug_level = 3
  protected_folders = []
}
certificates: {
}
media: {
  rtp_port_range = "40000-49999"
}
nat: {
  nice_debug = false
  # Only the namespace's address: the duel's traffic never leaves it.
  ice_enforce_list = "${iceAddress}"
}
plugins: {
  disable = "${plugins.join(',')}"
}
transports: {
  disable = "${transports.join(',')}"
}
loggers: {
  disable = "${list(path.join(libDir, 'loggers')).join(',')}"
}
events: {
  broadcast = false
  disable = "${list(path.join(libDir, 'events')).join(',')}"
}
`;
    const http = `general: {
  json = "compact"
  base_path = "/janus"
  http = true
  port = ${httpPort}
  ip = "127.0.0.1"
  https = false
}
admin: {
  admin_http = false
  admin_https = false
}
`;
    const streaming = `general: {
}
duel: {
  type = "rtp"
  id = ${janusMountpointId}
  description = "Diemcau duel program"
  media = (
    {
      type = "video"
      mid = "v"
      port = ${videoPort}
      iface = "${bind}"
      pt = ${janusVideoPt}
      codec = "h264"
      fmtp = "profile-level-id=42e01f;packetization-mode=1"
    },
    {
      type = "audio"
      mid = "a"
      port = ${audioPort}
      iface = "${bind}"
      pt = ${janusAudioPt}
      codec = "opus"
    }
  )
}
`;
    fs.writeFileSync(path.join(this.#dir, 'janus.jcfg'), janus);
    fs.writeFileSync(path.join(this.#dir, 'janus.transport.http.jcfg'), http);
    fs.writeFileSync(path.join(this.#dir, 'janus.plugin.streaming.jcfg'), streaming);
  }
}
