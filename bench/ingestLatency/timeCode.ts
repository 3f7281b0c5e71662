import { spawn, type ChildProcess } from 'node:child_process';

/**
 * The time code of the ingest latency bench: the sender's wall clock in
 * milliseconds, modulo 2^24 (it wraps every 4.7 hours, far longer than any
 * delay measured), painted as a 6×4 grid of black and white cells over the
 * whole picture, most significant bit top left. Cells of 107×90 pixels at
 * 360p (27×22 at 180p) survive H.264 at 1.5 Mbit/s and the 180p layer.
 */
export const timeCodeBits = 24;
export const timeCodeColumns = 6;
export const timeCodeRows = 4;
export const timeCodeModulo = 2 ** timeCodeBits;

/** The value a picture stamped at `epochMicros` (wall clock, µs) carries. */
export function timeCodeOf(epochMicros: number): number {
  return Math.floor(epochMicros / 1000) % timeCodeModulo;
}

/**
 * The ffmpeg filter chain that turns a 6×4 source (lavfi `color=size=6x4`)
 * into the time-coded 640×360 picture. `ptsMicros` is the frame's time in µs:
 * `RTCTIME` (the wall clock when the frame passes, i.e. when the source made
 * it, `-re` pacing the source) for a live encoder, a constant for a still.
 * The cells are drawn on the 6×4 picture (one pixel each, geq stays cheap)
 * and scaled up without smoothing; the output gets ordinary timestamps again
 * (N/FR) so that the encoder and the muxer see a normal 25 fps stream.
 */
export function timeCodeFilter(ptsMicros: string | number): string {
  // One pixel per cell: X and Y are the column and the row.
  const bit = `mod(floor(mod(floor(T*1000)\\,${timeCodeModulo})/pow(2\\,${timeCodeBits - 1}-(Y*${timeCodeColumns}+X)))\\,2)`;
  return [
    'settb=1/1000000',
    `setpts=${ptsMicros}`,
    'format=gray',
    `geq=lum='255*${bit}'`,
    'setpts=N/FR/TB',
    'settb=1/25',
    'scale=640:360:flags=neighbor',
    'format=yuv420p',
  ].join(',');
}

/** The lavfi source the filter expects. */
export const timeCodeSource = `color=c=black:size=${timeCodeColumns}x${timeCodeRows}:rate=25`;

/**
 * Reads the time code of a picture in the page (plain JS, added with
 * addInitScript): `window.__timeCode.decode(imageOrVideo)` gives the value;
 * `window.__timeCode.watch(selector)` decodes every frame the matching video
 * element presents (requestVideoFrameCallback; the element is looked up
 * again when the app replaces it) and keeps now − stamp with the frame's
 * height. The cells are sampled at their centres (a 3×3 average) from a
 * 96×64 copy of the frame, 16×16 pixels a cell.
 */
export const timeCodeReader = String.raw`(() => {
  const COLS = ${timeCodeColumns}, ROWS = ${timeCodeRows}, BITS = ${timeCodeBits}, MOD = ${timeCodeModulo};
  const CW = 16, W = COLS * CW, H = ROWS * CW;
  const canvas = document.createElement('canvas');
  canvas.width = W; canvas.height = H;
  const g = canvas.getContext('2d', { willReadFrequently: true });
  const decode = (source) => {
    g.drawImage(source, 0, 0, W, H);
    const data = g.getImageData(0, 0, W, H).data;
    let t = 0;
    for (let i = 0; i < BITS; i++) {
      const cx = (i % COLS) * CW + CW / 2, cy = Math.floor(i / COLS) * CW + CW / 2;
      let sum = 0;
      for (let dy = -2; dy <= 2; dy += 2) for (let dx = -2; dx <= 2; dx += 2) {
        const o = ((cy + dy) * W + cx + dx) * 4;
        sum += data[o] + data[o + 1] + data[o + 2];
      }
      t = t * 2 + (sum / 27 > 128 ? 1 : 0);
    }
    return t;
  };
  const state = { decode, samples: [], rejected: 0, watching: null };
  // A stamp further back than a minute is a frame that did not decode (a torn or blended picture).
  const plausibleMs = 60000;
  state.watch = (selector) => {
    const seen = new WeakSet();
    const follow = (video) => {
      const onFrame = (_now, meta) => {
        const d = (((Date.now() % MOD) - decode(video)) % MOD + MOD) % MOD;
        if (d < plausibleMs) state.samples.push({ d, h: meta.height });
        else state.rejected++;
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    };
    clearInterval(state.watching);
    state.watching = setInterval(() => {
      const video = document.querySelector(selector);
      if (video && !seen.has(video)) { seen.add(video); follow(video); }
    }, 200);
  };
  state.take = () => { const out = { samples: state.samples, rejected: state.rejected }; state.samples = []; state.rejected = 0; return out; };
  window.__timeCode = state;
})();`;

/**
 * A time-coded camera for a browser sender (plain JS for addInitScript): a
 * 640×360 canvas painted with Date.now() in the same cells, on every
 * animation frame and every 20 ms (as bench/liveLatency.ts does), and a tone.
 * `window.__timeCodedStream()` gives its MediaStream; getUserMedia is
 * replaced by it, so the web app's studio sends it as its camera.
 */
export const timeCodedCamera = String.raw`(() => {
  const W = 640, H = 360, COLS = ${timeCodeColumns}, ROWS = ${timeCodeRows}, BITS = ${timeCodeBits}, MOD = ${timeCodeModulo};
  const canvas = document.createElement('canvas');
  canvas.width = W; canvas.height = H;
  const g = canvas.getContext('2d');
  const paint = () => {
    const t = Date.now() % MOD;
    for (let i = 0; i < BITS; i++) {
      g.fillStyle = Math.floor(t / 2 ** (BITS - 1 - i)) % 2 ? '#fff' : '#000';
      const x0 = Math.round(((i % COLS) * W) / COLS), x1 = Math.round((((i % COLS) + 1) * W) / COLS);
      const y0 = Math.round((Math.floor(i / COLS) * H) / ROWS), y1 = Math.round(((Math.floor(i / COLS) + 1) * H) / ROWS);
      g.fillRect(x0, y0, x1 - x0, y1 - y0);
    }
  };
  const loop = () => { paint(); requestAnimationFrame(loop); };
  loop();
  setInterval(paint, 20);
  window.__timeCodedStream = () => {
    const stream = canvas.captureStream(30);
    const audio = new AudioContext();
    const osc = audio.createOscillator();
    const dest = audio.createMediaStreamDestination();
    osc.connect(dest); osc.start();
    stream.addTrack(dest.stream.getAudioTracks()[0]);
    return stream;
  };
  navigator.mediaDevices.getUserMedia = async () => window.__timeCodedStream();
})();`;

export class TimeCodedEncoderError extends Error {
  override name = 'TimeCodedEncoderError';
}

/**
 * The broadcast desk's encoder played by ffmpeg, with the time code in its
 * picture: 640×360 25 fps H.264 (x264 veryfast, zero latency, no B-frames,
 * a keyframe a second, 1.5 Mbit/s) and an AAC tone, in real time, to an
 * RTMP (FLV) or SRT (MPEG-TS) address as the console gives it.
 */
export class TimeCodedEncoder {
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;
  #stderr = '';

  private constructor(ffmpegPath: string, target: string) {
    const format = target.startsWith('srt:') ? 'mpegts' : 'flv';
    // prettier-ignore
    const args = [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
      '-f', 'lavfi', '-i', timeCodeSource,
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-vf', timeCodeFilter('RTCTIME/(TB*1000000)'),
      '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-bf', '0', '-g', '25', '-keyint_min', '25',
      '-b:v', '1500k', '-maxrate', '1500k', '-bufsize', '1500k', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '96k',
      '-f', format, target,
    ];
    this.#child = spawn(ffmpegPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child.stderr?.on('data', (d: Buffer) => (this.#stderr = (this.#stderr + d.toString()).slice(-2000)));
    this.#exited = new Promise((resolve) => {
      this.#child.once('exit', (code) => resolve(code));
      this.#child.once('error', (error) => {
        this.#stderr += `\nspawn error: ${error.message}`;
        resolve(-1);
      });
    });
  }

  static start(ffmpegPath: string, target: string): TimeCodedEncoder {
    return new TimeCodedEncoder(ffmpegPath, target);
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Throws with ffmpeg's last words if it has stopped (refused, cut off). */
  assertRunning(): void {
    if (!this.running) throw new TimeCodedEncoderError(`the encoder stopped: ${this.#stderr.trim() || 'no message'}`);
  }

  async close(): Promise<void> {
    if (this.running) this.#child.kill('SIGKILL');
    await this.#exited;
  }
}
