import type { ErrorData, HlsConfig } from 'hls.js';
import Hls from 'hls.js/light';
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
 * Low delay for a live session: stay two segments behind the edge, catch up
 * gently (at most 1.1×) when more than six behind, and keep the last ten
 * minutes in the buffer so rewinding within the DVR window is instant.
 */
const liveMaxLatencyDurationCount = 6;
const liveConfig: Partial<HlsConfig> = {
  lowLatencyMode: true,
  liveSyncDurationCount: 2,
  liveMaxLatencyDurationCount,
  maxLiveSyncPlaybackRate: 1.1,
  backBufferLength: 600,
};

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
      });
      hls.on(Hls.Events.MEDIA_ATTACHED, () => hls.loadSource(options.src));
      hls.attachMedia(video);
      if (options.live) video.addEventListener('seeking', this.#onSeeking);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      // Native HLS cannot send headers: the token rides in the query.
      video.src = withToken(options.src, options.token);
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

  goLive(): void {
    const position = this.liveSyncPosition;
    if (position !== null && Number.isFinite(position)) this.video.currentTime = position;
    void this.video.play().catch(() => {});
  }

  seek(seconds: number): void {
    const range = this.seekableRange;
    const target = range ? Math.min(Math.max(seconds, range.start), range.end) : Math.max(0, seconds);
    this.video.currentTime = target;
    void this.video.play().catch(() => {});
  }

  destroy(): void {
    this.#destroyed = true;
    this.video.removeEventListener('seeking', this.#onSeeking);
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.hls?.destroy();
    if (!this.hls) {
      this.video.removeAttribute('src');
      this.video.load();
    }
    if (window.diemcauPlayer?.video === this.video) window.diemcauPlayer = undefined;
  }

  /**
   * DVR: hls.js pulls a viewer more than `liveMaxLatencyDurationCount`
   * segments behind back to the live edge at every playlist refresh, which
   * would undo any rewind. A viewer who seeks back on purpose stays where they
   * went (until they fall out of the window); back near the edge, the limit
   * applies again.
   */
  readonly #onSeeking = (): void => {
    const hls = this.hls;
    const details = hls?.levels.find((level) => level.details)?.details;
    if (!hls || !details?.live) return;
    const behind = details.edge - this.video.currentTime;
    const rewound = behind > liveMaxLatencyDurationCount * details.targetduration - 1;
    hls.config.liveMaxLatencyDurationCount = rewound ? Infinity : liveMaxLatencyDurationCount;
  };

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#o.onEnded();
  }

  #onError(data: ErrorData): void {
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
