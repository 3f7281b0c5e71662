/**
 * The sound level of an encoder's feed as the operator sees it: its
 * loudness over about the last second (EBU R128 momentary loudness, LUFS,
 * which reads as the RMS level in dBFS for a tone in the middle of the
 * spectrum: a full-scale sine about -3), never below `audioLevelFloorDb`
 * (digital silence is -∞ or -120 and beyond, which a meter does not need and
 * JSON cannot carry as -∞).
 */

/** The quietest level shown: anything below is silence to an operator. */
export const audioLevelFloorDb = -90;

/** The level is measured over this much of the sound's own time. */
const windowSeconds = 1;

/** A level older than this (wall time) is no longer the feed's: its sound stopped. */
const staleMs = 3000;

/** The metadata key ffmpeg's ebur128 filter writes each 100 ms frame's momentary loudness (its last 400 ms) under. */
export const loudnessKey = 'lavfi.r128.M';

/** A level in dB clamped to the floor, rounded to 0.1 dB; -∞ and NaN read as the floor. */
export function clampLevelDb(db: number): number {
  if (!Number.isFinite(db)) return db === Infinity ? 0 : audioLevelFloorDb;
  return Math.round(Math.max(audioLevelFloorDb, Math.min(0, db)) * 10) / 10;
}

/**
 * Reads what ffmpeg's `ebur128=metadata=1,ametadata=mode=print` prints for
 * each 100 ms of sound — `frame:12 pts:57600 pts_time:1.2`, then
 * `lavfi.r128.M=-23.7` (`-inf` or -120 and below for silence) — and averages
 * the frames' power over each second of the sound's timestamps. Lines it
 * does not know are ignored: the parsing is bounded by the line reader
 * (StderrLines) and by one number kept per second.
 */
export class AudioLevelMeter {
  /** The stream time of the frame being read (from its `frame:` line). */
  #ptsTime: number | null = null;
  #windowStart: number | null = null;
  #powerSum = 0;
  #frames = 0;
  #level: number | null = null;
  #levelAt = 0;

  /** One line of the filter's output; `nowMs` is when it was read. */
  line(text: string, nowMs: number): void {
    const frame = /^frame:\s*\d+\s+pts:\s*-?\d+\s+pts_time:\s*(-?[\d.]+(?:e[-+]?\d+)?)/.exec(text);
    if (frame) {
      const t = Number(frame[1]);
      this.#ptsTime = Number.isFinite(t) ? t : null;
      return;
    }
    if (!text.startsWith(`${loudnessKey}=`)) return;
    const value = text.slice(loudnessKey.length + 1).trim();
    // A decimal number or -inf, as ffmpeg prints them: Number() would read '' as 0 dB (full scale), 'Infinity' and '0x1f' as levels too.
    if (value !== '-inf' && !/^-?\d+(?:\.\d+)?(?:e[-+]?\d+)?$/i.test(value)) return;
    const db = value === '-inf' ? -Infinity : Number(value);
    if (Number.isNaN(db) || db === Infinity) return;
    this.#add(db, this.#ptsTime, nowMs);
  }

  /** The level over the last measured second, or null before the first second or once the sound has stopped for a while. */
  level(nowMs: number): number | null {
    if (this.#level === null || nowMs - this.#levelAt > staleMs) return null;
    return this.#level;
  }

  #add(db: number, ptsTime: number | null, nowMs: number): void {
    // A timestamp jump backwards (the encoder reconnected its stream) starts a new second.
    if (ptsTime !== null && this.#windowStart !== null && ptsTime < this.#windowStart) this.#reset(ptsTime);
    if (this.#windowStart === null) this.#windowStart = ptsTime ?? 0;
    this.#powerSum += db === -Infinity ? 0 : Math.pow(10, db / 10);
    this.#frames++;
    const span = ptsTime === null ? 0 : ptsTime - this.#windowStart;
    if (span < windowSeconds) return;
    // Frames of one feed are all the same length: their mean power is the second's.
    const mean = this.#powerSum / this.#frames;
    this.#level = clampLevelDb(mean > 0 ? 10 * Math.log10(mean) : -Infinity);
    this.#levelAt = nowMs;
    this.#reset(ptsTime);
  }

  #reset(start: number | null): void {
    this.#windowStart = start;
    this.#powerSum = 0;
    this.#frames = 0;
  }
}
