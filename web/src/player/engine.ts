import type { ErrorData, HlsConfig } from 'hls.js';
import Hls from 'hls.js/light';
import { catchUpRate, relaxedTarget } from './catchUp';
import { withToken } from './recordings';

declare global {
  interface Window {
    /** The watch page's player, for end-to-end tests. */
    diemcauPlayer?: { hls: Hls | null; video: HTMLVideoElement; fatalErrors: string[]; errors: string[] };
  }
}

/** Why playback stopped for good; each has its own message. */
export type FatalKind = 'forbidden' | 'not-found' | 'network' | 'media' | 'unsupported';

export interface EngineOptions {
  video: HTMLVideoElement;
  src: string;
  /** Viewer token for a restricted session ('' for public ones). */
  token: string;
  live: boolean;
  /** Where to start (seconds); live streams start near the live edge by default. */
  startAt?: number;
  onFatal(kind: FatalKind, detail: string): void;
  /** The live playlist was closed (ENDLIST): the session is over. */
  onEnded(): void;
}

/**
 * Low delay for a live session (Low-Latency HLS): stay the playlist's
 * PART-HOLD-BACK behind the edge and keep the last ten minutes in the buffer
 * so rewinding within the DVR window is instant. liveSync* and
 * liveMaxLatency* are left unset: the first would override PART-HOLD-BACK,
 * and hls.js accepts the second only with the first. hls.js's own catch-up
 * is off (a rate of 1): it needs more than 1 s buffered, which a 0.7 s
 * target never has; catchUp.ts does it instead.
 */
const liveConfig: Partial<HlsConfig> = {
  lowLatencyMode: true,
  maxLiveSyncPlaybackRate: 1,
  backBufferLength: 600,
};

/** Further behind the edge than this many target durations, a viewer has rewound on purpose. */
const rewoundDurationCount = 6;

/**
 * hls.js speeds up only within about a segment of its target: a player that
 * stalled (a weak link, a busy phone) would stay seconds behind for good.
 * This far past the target, it jumps back to the live position instead.
 */
const driftToJumpSeconds = 1.5;

const networkRetries = 6;
const mediaRecoveries = 2;

/**
 * Plays a session's HLS in a <video>: with hls.js where Media Source
 * Extensions exist (every desktop browser, Android), else natively (iPhone).
 * Recovers from network and decoding hiccups and reports what it cannot.
 */
export class PlayerEngine {
  readonly hls: Hls | null = null;
  readonly fatalErrors: string[] = [];
  /** Every error hls.js reported, recovered or not (diagnostics). */
  readonly errors: string[] = [];
  readonly #o: EngineOptions;
  #networkFailures = 0;
  #mediaFailures = 0;
  #lastMediaFailure = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #ended = false;
  #destroyed = false;
  /** The viewer went back in the DVR window on purpose. */
  #rewound = false;
  /** The next 'seeking' event is one seek() asked for. */
  #asked = false;
  /** When the picture last stalled (performance.now() ms): a calm spell after it lowers the target again. */
  #lastStall = 0;

  constructor(options: EngineOptions) {
    this.#o = options;
    const { video } = options;
    if (Hls.isSupported()) {
      const token = options.token;
      const hls = new Hls({
        ...(options.live ? liveConfig : {}),
        // An archive starts at its beginning even while it still grows (an EVENT playlist looks live to hls.js).
        startPosition: options.startAt ?? (options.live ? -1 : 0),
        xhrSetup: (xhr) => {
          if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
        },
      });
      this.hls = hls;
      hls.on(Hls.Events.ERROR, (_event, data) => this.#onError(data));
      hls.on(Hls.Events.FRAG_BUFFERED, () => {
        this.#networkFailures = 0;
      });
      hls.on(Hls.Events.LEVEL_UPDATED, (_event, data) => {
        if (options.live && !data.details.live) this.#end();
        else if (options.live) this.#keepUp();
      });
      hls.on(Hls.Events.MEDIA_ATTACHED, () => hls.loadSource(options.src));
      hls.attachMedia(video);
      if (options.live) {
        video.addEventListener('seeking', this.#onSeeking);
        video.addEventListener('timeupdate', this.#onTimeUpdate);
      }
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      // Native HLS cannot send headers: the token rides in the query, which the server carries onto the
      // segment links of the classic playlist only (the low-latency one names its parts in tags).
      const src = options.token ? options.src.replace(/\/ll\.m3u8$/, '/live.m3u8') : options.src;
      video.src = withToken(src, options.token);
      if (options.startAt) {
        video.addEventListener('loadedmetadata', () => (video.currentTime = options.startAt ?? 0), { once: true });
      }
      video.addEventListener('error', () => this.#fatal('network', `native: ${video.error?.message ?? video.error?.code}`));
      if (options.live) video.addEventListener('ended', () => this.#end());
    } else {
      queueMicrotask(() => this.#fatal('unsupported', 'no MSE and no native HLS'));
    }
    window.diemcauPlayer = { hls: this.hls, video, fatalErrors: this.fatalErrors, errors: this.errors };
  }

  get video(): HTMLVideoElement {
    return this.#o.video;
  }

  /** The position a live viewer is taken to by "go live". */
  get liveSyncPosition(): number | null {
    if (this.hls) return this.hls.liveSyncPosition;
    const { seekable } = this.video;
    return seekable.length ? Math.max(seekable.start(0), seekable.end(seekable.length - 1) - 6) : null;
  }

  /** Seconds behind the live edge, when known. */
  get latency(): number | null {
    if (this.hls) return this.hls.latency || null;
    const { seekable } = this.video;
    return seekable.length ? Math.max(0, seekable.end(seekable.length - 1) - this.video.currentTime) : null;
  }

  /** The span the viewer can seek in (the DVR window for a live session). */
  get seekableRange(): { start: number; end: number } | null {
    const { seekable } = this.video;
    return seekable.length ? { start: seekable.start(0), end: seekable.end(seekable.length - 1) } : null;
  }

  /** The viewer went back on purpose (−30 s, the seek bar) and stays there until going live again. */
  get rewound(): boolean {
    return this.#rewound;
  }

  /** The delay hls.js aims for at the live position (null: unknown, or not hls.js). */
  get targetLatency(): number | null {
    return this.hls?.targetLatency ?? null;
  }

  goLive(): void {
    this.#rewound = false;
    const position = this.liveSyncPosition;
    if (position !== null && Number.isFinite(position)) this.video.currentTime = position;
    void this.video.play().catch(() => {});
  }

  /**
   * Moves to a position the viewer asked for. Behind the live position it
   * counts as rewound whatever the playlist's segment length: judged by the
   * 'seeking' event alone, −30 s with 6 s segments looked like drift and
   * snapped back to live.
   */
  seek(seconds: number): void {
    const range = this.seekableRange;
    const target = range ? Math.min(Math.max(seconds, range.start), range.end) : Math.max(0, seconds);
    const live = this.liveSyncPosition;
    this.#rewound = this.#o.live && live !== null && Number.isFinite(live) && target < live - driftToJumpSeconds;
    this.#asked = target !== this.video.currentTime;
    this.video.currentTime = target;
    void this.video.play().catch(() => {});
  }

  destroy(): void {
    this.#destroyed = true;
    this.video.removeEventListener('seeking', this.#onSeeking);
    this.video.removeEventListener('timeupdate', this.#onTimeUpdate);
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.hls?.destroy();
    if (!this.hls) {
      this.video.removeAttribute('src');
      this.video.load();
    }
    if (window.diemcauPlayer?.video === this.video) window.diemcauPlayer = undefined;
  }

  /**
   * DVR: a viewer who seeks back on purpose stays where they went (until they
   * fall out of the window) instead of being pulled back to the live edge;
   * back near the edge, the player keeps up again (#keepUp).
   */
  readonly #onSeeking = (): void => {
    // The seek seek() made: it already said whether the viewer rewound.
    if (this.#asked) return void (this.#asked = false);
    const details = this.hls?.levels.find((level) => level.details)?.details;
    if (!details?.live) return;
    this.#rewound = details.edge - this.video.currentTime > rewoundDurationCount * details.targetduration - 1;
  };

  /** A little faster while behind the target delay, normal speed at it or when the viewer rewound. */
  readonly #onTimeUpdate = (): void => {
    const hls = this.hls;
    const target = hls?.targetLatency;
    if (!hls || target === null || target === undefined) return;
    const { buffered, currentTime } = this.video;
    const ahead = buffered.length ? buffered.end(buffered.length - 1) - currentTime : 0;
    const rate = this.#rewound || this.video.paused ? 1 : catchUpRate({ latency: hls.latency, target, ahead });
    if (this.video.playbackRate !== rate) this.video.playbackRate = rate;
    const details = hls.latestLevelDetails;
    const streamTarget = details?.partHoldBack || details?.holdBack;
    if (!streamTarget) return;
    const relaxed = relaxedTarget({ target, streamTarget, secondsSinceStall: (performance.now() - this.#lastStall) / 1000 });
    // Setting it also clears hls.js's count of stalls.
    if (relaxed !== null) hls.targetLatency = relaxed;
  };

  /** Back to the live position when the player drifted far behind (not when the viewer rewound on purpose). */
  #keepUp(): void {
    const hls = this.hls;
    if (!hls || this.#rewound || this.video.paused) return;
    const position = hls.liveSyncPosition;
    const target = hls.targetLatency;
    if (target !== null && hls.latency > target + driftToJumpSeconds && position !== null && Number.isFinite(position)) {
      this.video.currentTime = position;
    }
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#o.onEnded();
  }

  #onError(data: ErrorData): void {
    if (data.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR) this.#lastStall = performance.now();
    if (this.errors.length < 100)
      this.errors.push(`${data.fatal ? 'fatal ' : ''}${data.type}/${data.details}${data.response?.code ? ` ${data.response.code}` : ''}`);
    if (!data.fatal || this.#destroyed) return;
    const hls = this.hls!;
    const status = data.response?.code ?? 0;
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
      // A refused or missing playlist does not come back by asking again.
      if (status === 401 || status === 403) return this.#fatal('forbidden', `${data.details} ${status}`);
      if (status === 404 && data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR) return this.#fatal('not-found', `${data.details} 404`);
      if (this.#networkFailures++ < networkRetries) {
        // hls.js already retried with back-off; wait a bit more, then resume loading where it stopped.
        this.#retryTimer = setTimeout(() => hls.startLoad(), 1000 * this.#networkFailures);
        return;
      }
      return this.#fatal('network', `${data.details} ${status || ''}`.trim());
    }
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      // Failures far apart are separate hiccups, each recovered afresh.
      if (Date.now() - this.#lastMediaFailure > 20_000) this.#mediaFailures = 0;
      this.#lastMediaFailure = Date.now();
      if (this.#mediaFailures++ < mediaRecoveries) {
        if (this.#mediaFailures === 2) hls.swapAudioCodec();
        hls.recoverMediaError();
        return;
      }
      return this.#fatal('media', data.details);
    }
    this.#fatal(data.type === Hls.ErrorTypes.MUX_ERROR ? 'media' : 'network', data.details);
  }

  #fatal(kind: FatalKind, detail: string): void {
    if (this.#destroyed) return;
    this.fatalErrors.push(`${kind}: ${detail}`);
    this.hls?.stopLoad();
    this.#o.onFatal(kind, detail);
  }
}
