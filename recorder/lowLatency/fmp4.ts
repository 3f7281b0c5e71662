/**
 * An incremental reader of the fragmented MP4 that ffmpeg writes to a pipe
 * (`-movflags +empty_moov+default_base_moof+frag_keyframe`): the init
 * segment (ftyp+moov) once, then moof+mdat pairs. Chunks may be split
 * anywhere; whole boxes are buffered only up to a bound, so a corrupt or
 * hostile size field ends in an Fmp4Error rather than in unbounded memory.
 * Pure: no I/O, no timers.
 */

export type Fmp4ErrorCode = 'box-too-large' | 'box-size-invalid' | 'unexpected-box' | 'malformed-box';

/** The byte stream cannot be read further; the reader stays failed (a new encoder run needs a new reader). */
export class Fmp4Error extends Error {
  constructor(
    readonly code: Fmp4ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'Fmp4Error';
  }
}

export interface Fmp4Track {
  id: number;
  /** The handler: 'vide', 'soun', … */
  handler: string;
  /** Ticks per second of the track's media time. */
  timescale: number;
  /** The sample entry's four-character code ('avc1', 'mp4a', …). */
  codec: string;
  /** Picture size from tkhd (0 for sound). */
  width: number;
  height: number;
  /** trex defaults, the last fallback for trun/tfhd. */
  defaultSampleDuration: number;
  defaultSampleFlags: number;
}

export interface InitSegment {
  /** ftyp+moov, as written: the bytes of EXT-X-MAP. */
  bytes: Buffer;
  tracks: Fmp4Track[];
}

export interface FragmentTrack {
  id: number;
  /** tfdt, in the track's timescale. */
  decodeTime: number;
  /** Sum of the sample durations, in the track's timescale. */
  duration: number;
  sampleCount: number;
  /** The first sample is a sync sample (a keyframe for video). */
  startsWithSync: boolean;
}

export interface Fragment {
  /** moof+mdat, as written: concatenated, they play after the init segment. */
  bytes: Buffer;
  sequence: number;
  tracks: FragmentTrack[];
}

export type Fmp4Item = { type: 'init'; init: InitSegment } | { type: 'fragment'; fragment: Fragment };

export interface Fmp4ReaderOptions {
  /** Largest ftyp/moov/moof box accepted (default 1 MiB: ffmpeg's are a few hundred bytes). */
  maxHeaderBoxBytes?: number;
  /** Largest mdat accepted (default 16 MiB: a 200 ms fragment at 3 Mbit/s is ~75 kB, a big keyframe ~1 MB). */
  maxMdatBytes?: number;
  /** Largest box skipped unread (free, mfra, udta, …) (default 16 MiB). */
  maxSkippedBoxBytes?: number;
}

const SAMPLE_IS_NON_SYNC = 0x00010000;

/** The reader of one byte stream (one encoder run's pipe). */
export class Fmp4Reader {
  readonly #maxHeader: number;
  readonly #maxMdat: number;
  readonly #maxSkip: number;
  /** The header of the next box, gathered (8 bytes, or 16 with a 64-bit size). */
  readonly #head = Buffer.alloc(16);
  #headLength = 0;
  /** The box being received: allocated once its size is known (bounded), filled as chunks arrive. */
  #box: { type: string; bytes: Buffer; filled: number } | null = null;
  /** Bytes of an unread box still to drop as they arrive. */
  #skipping = 0;
  #ftyp: Buffer | null = null;
  #init: InitSegment | null = null;
  #moof: { bytes: Buffer; sequence: number; trafs: Traf[] } | null = null;
  #failed: Fmp4Error | null = null;

  constructor(options: Fmp4ReaderOptions = {}) {
    this.#maxHeader = options.maxHeaderBoxBytes ?? 1 << 20;
    this.#maxMdat = options.maxMdatBytes ?? 16 << 20;
    this.#maxSkip = options.maxSkippedBoxBytes ?? 16 << 20;
  }

  get init(): InitSegment | null {
    return this.#init;
  }

  /** Bytes held while waiting for the rest of a box. */
  get bufferedBytes(): number {
    return this.#headLength + (this.#box?.filled ?? 0);
  }

  /** Takes the next chunk of the stream; returns what it completed. Throws Fmp4Error (and keeps throwing it) on bad input. */
  push(chunk: Uint8Array): Fmp4Item[] {
    if (this.#failed) throw this.#failed;
    try {
      return this.#push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (error) {
      if (error instanceof Fmp4Error) this.#failed = error;
      throw error;
    }
  }

  #push(chunk: Buffer): Fmp4Item[] {
    const items: Fmp4Item[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.#skipping > 0) {
        const dropped = Math.min(this.#skipping, chunk.length - at);
        this.#skipping -= dropped;
        at += dropped;
        continue;
      }
      const box = this.#box;
      if (box) {
        const copied = chunk.copy(box.bytes, box.filled, at, Math.min(chunk.length, at + box.bytes.length - box.filled));
        box.filled += copied;
        at += copied;
        if (box.filled === box.bytes.length) {
          this.#box = null;
          const item = this.#complete(box.type, box.bytes);
          if (item) items.push(item);
        }
        continue;
      }
      // A header: 8 bytes, then 8 more when the size is 64-bit.
      const wanted = this.#headLength >= 8 && this.#head.readUInt32BE(0) === 1 ? 16 : 8;
      const copied = chunk.copy(this.#head, this.#headLength, at, Math.min(chunk.length, at + wanted - this.#headLength));
      this.#headLength += copied;
      at += copied;
      if (this.#headLength < 8) continue;
      if (this.#head.readUInt32BE(0) === 1 && this.#headLength < 16) continue;
      const item = this.#startBox();
      if (item) items.push(item);
    }
    return items;
  }

  /** A whole header is gathered: decide to keep the box (bounded) or drop it. */
  #startBox(): Fmp4Item | undefined {
    const header = this.#head.subarray(0, this.#headLength);
    this.#headLength = 0;
    const size32 = header.readUInt32BE(0);
    const type = boxType(header, 4);
    if (!/^[\x20-\x7e]{4}$/.test(type)) throw new Fmp4Error('malformed-box', `box type ${JSON.stringify(type)} is not printable`);
    let size: number;
    if (size32 === 1) {
      const large = header.readBigUInt64BE(8);
      if (large > BigInt(Number.MAX_SAFE_INTEGER)) throw new Fmp4Error('box-too-large', `${type} box of ${large} bytes`);
      size = Number(large);
      if (size < 16) throw new Fmp4Error('box-size-invalid', `${type} box with a 64-bit size of ${size}`);
    } else if (size32 === 0) {
      // "Up to the end of the file": a live pipe has no end to wait for.
      throw new Fmp4Error('box-size-invalid', `${type} box sized to the end of the stream`);
    } else if (size32 < 8) {
      throw new Fmp4Error('box-size-invalid', `${type} box of ${size32} bytes`);
    } else {
      size = size32;
    }
    const keep = type === 'ftyp' || type === 'moov' || type === 'moof' || type === 'mdat';
    if (!keep) {
      // Not needed (free, udta, mfra at the end, sidx, prft…): dropped as it streams by.
      if (size > this.#maxSkip) throw new Fmp4Error('box-too-large', `${type} box of ${size} bytes`);
      this.#skipping = size - header.length;
      return undefined;
    }
    const limit = type === 'mdat' ? this.#maxMdat : this.#maxHeader;
    if (size > limit) throw new Fmp4Error('box-too-large', `${type} box of ${size} bytes (limit ${limit})`);
    const bytes = Buffer.allocUnsafe(size);
    header.copy(bytes, 0);
    // An empty box is complete already.
    if (size === header.length) return this.#complete(type, bytes);
    this.#box = { type, bytes, filled: header.length };
    return undefined;
  }

  #complete(type: string, box: Buffer): Fmp4Item | undefined {
    switch (type) {
      case 'ftyp':
        if (this.#init) throw new Fmp4Error('unexpected-box', 'a second ftyp: one reader reads one run');
        this.#ftyp = box;
        return undefined;
      case 'moov': {
        if (!this.#ftyp || this.#init) throw new Fmp4Error('unexpected-box', 'moov without ftyp before it, or a second moov');
        this.#init = { bytes: Buffer.concat([this.#ftyp, box]), tracks: parseMoov(box) };
        this.#ftyp = null;
        return { type: 'init', init: this.#init };
      }
      case 'moof':
        if (!this.#init) throw new Fmp4Error('unexpected-box', 'moof before the init segment');
        if (this.#moof) throw new Fmp4Error('unexpected-box', 'two moof boxes without an mdat between them');
        this.#moof = { bytes: box, ...parseMoof(box) };
        return undefined;
      default: {
        // mdat: the samples of the moof before it.
        const moof = this.#moof;
        if (!moof) throw new Fmp4Error('unexpected-box', 'mdat without a moof before it');
        this.#moof = null;
        return { type: 'fragment', fragment: this.#fragment(moof, box) };
      }
    }
  }

  #fragment(moof: { bytes: Buffer; sequence: number; trafs: Traf[] }, mdat: Buffer): Fragment {
    const init = this.#init!;
    const tracks: FragmentTrack[] = moof.trafs.map((traf) => {
      const track = init.tracks.find((t) => t.id === traf.trackId);
      if (!track) throw new Fmp4Error('malformed-box', `traf of track ${traf.trackId}, absent from moov`);
      const defaultDuration = traf.defaultSampleDuration ?? track.defaultSampleDuration;
      const defaultFlags = traf.defaultSampleFlags ?? track.defaultSampleFlags;
      let duration = 0;
      let sampleCount = 0;
      let firstFlags: number | undefined;
      for (const run of traf.runs) {
        for (let i = 0; i < run.sampleCount; i++) {
          duration += run.durations ? run.durations[i] : defaultDuration;
          if (firstFlags === undefined) firstFlags = run.firstSampleFlags ?? (run.flags ? run.flags[i] : defaultFlags);
        }
        sampleCount += run.sampleCount;
      }
      return {
        id: traf.trackId,
        decodeTime: traf.decodeTime ?? 0,
        duration,
        sampleCount,
        startsWithSync: firstFlags !== undefined && (firstFlags & SAMPLE_IS_NON_SYNC) === 0,
      };
    });
    return { bytes: Buffer.concat([moof.bytes, mdat]), sequence: moof.sequence, tracks };
  }
}

// ---- Box parsing ---------------------------------------------------------------------

interface Box {
  type: string;
  /** Where the payload starts and the box ends, in the parent buffer. */
  start: number;
  end: number;
}

function boxType(buf: Buffer, at: number): string {
  return buf.toString('latin1', at, at + 4);
}

/** The child boxes of buf[start, end), each checked to fit inside. */
function children(buf: Buffer, start: number, end: number): Box[] {
  const boxes: Box[] = [];
  let at = start;
  while (at < end) {
    if (end - at < 8) throw new Fmp4Error('malformed-box', 'trailing bytes shorter than a box header');
    let size = buf.readUInt32BE(at);
    const type = boxType(buf, at + 4);
    let header = 8;
    if (size === 1) {
      if (end - at < 16) throw new Fmp4Error('malformed-box', `${type}: truncated 64-bit size`);
      const large = buf.readBigUInt64BE(at + 8);
      size = large > BigInt(end - at) ? end - at + 1 : Number(large);
      header = 16;
    } else if (size === 0) {
      size = end - at;
    }
    if (size < header || at + size > end) throw new Fmp4Error('malformed-box', `${type} box of ${size} bytes does not fit its parent`);
    boxes.push({ type, start: at + header, end: at + size });
    at += size;
  }
  return boxes;
}

function child(buf: Buffer, parent: Box, type: string): Box | undefined {
  return children(buf, parent.start, parent.end).find((b) => b.type === type);
}

/** Checks that a box's payload holds n bytes from its start. */
function need(box: Box, n: number): void {
  if (box.end - box.start < n) throw new Fmp4Error('malformed-box', `${box.type} box too short (${box.end - box.start} < ${n} bytes)`);
}

function parseMoov(moov: Buffer): Fmp4Track[] {
  const root: Box = { type: 'moov', start: 8, end: moov.length };
  const trex = new Map<number, { duration: number; flags: number }>();
  const mvex = child(moov, root, 'mvex');
  for (const box of mvex ? children(moov, mvex.start, mvex.end) : []) {
    if (box.type !== 'trex') continue;
    need(box, 24);
    trex.set(moov.readUInt32BE(box.start + 4), { duration: moov.readUInt32BE(box.start + 12), flags: moov.readUInt32BE(box.start + 20) });
  }
  const tracks: Fmp4Track[] = [];
  for (const trak of children(moov, root.start, root.end)) {
    if (trak.type !== 'trak') continue;
    const tkhd = child(moov, trak, 'tkhd');
    const mdia = child(moov, trak, 'mdia');
    const mdhd = mdia && child(moov, mdia, 'mdhd');
    const hdlr = mdia && child(moov, mdia, 'hdlr');
    if (!tkhd || !mdhd || !hdlr) throw new Fmp4Error('malformed-box', 'trak without tkhd, mdhd or hdlr');
    const v1 = moov[tkhd.start] === 1;
    need(tkhd, v1 ? 96 : 84);
    const id = moov.readUInt32BE(tkhd.start + (v1 ? 20 : 12));
    const sizeAt = tkhd.start + (v1 ? 88 : 76);
    need(mdhd, moov[mdhd.start] === 1 ? 24 : 16);
    const timescale = moov.readUInt32BE(mdhd.start + (moov[mdhd.start] === 1 ? 20 : 12));
    if (timescale === 0) throw new Fmp4Error('malformed-box', `track ${id} has a timescale of 0`);
    need(hdlr, 12);
    const handler = boxType(moov, hdlr.start + 8);
    const minf = child(moov, mdia, 'minf');
    const stbl = minf && child(moov, minf, 'stbl');
    const stsd = stbl && child(moov, stbl, 'stsd');
    // stsd: version/flags, entry count, then the first sample entry's size and type.
    const codec = stsd && stsd.end - stsd.start >= 16 ? boxType(moov, stsd.start + 12) : '';
    const defaults = trex.get(id);
    tracks.push({
      id,
      handler,
      timescale,
      codec,
      width: moov.readUInt32BE(sizeAt) >>> 16,
      height: moov.readUInt32BE(sizeAt + 4) >>> 16,
      defaultSampleDuration: defaults?.duration ?? 0,
      defaultSampleFlags: defaults?.flags ?? 0,
    });
  }
  if (!tracks.length) throw new Fmp4Error('malformed-box', 'moov without a track');
  return tracks;
}

interface Trun {
  sampleCount: number;
  durations: number[] | null;
  flags: number[] | null;
  firstSampleFlags: number | undefined;
}

interface Traf {
  trackId: number;
  decodeTime: number | undefined;
  defaultSampleDuration: number | undefined;
  defaultSampleFlags: number | undefined;
  runs: Trun[];
}

function parseMoof(moof: Buffer): { sequence: number; trafs: Traf[] } {
  const root: Box = { type: 'moof', start: 8, end: moof.length };
  let sequence = 0;
  const trafs: Traf[] = [];
  for (const box of children(moof, root.start, root.end)) {
    if (box.type === 'mfhd') {
      need(box, 8);
      sequence = moof.readUInt32BE(box.start + 4);
    } else if (box.type === 'traf') {
      trafs.push(parseTraf(moof, box));
    }
  }
  return { sequence, trafs };
}

function parseTraf(buf: Buffer, traf: Box): Traf {
  const out: Traf = { trackId: 0, decodeTime: undefined, defaultSampleDuration: undefined, defaultSampleFlags: undefined, runs: [] };
  let sawTfhd = false;
  for (const box of children(buf, traf.start, traf.end)) {
    if (box.type === 'tfhd') {
      need(box, 8);
      sawTfhd = true;
      const flags = buf.readUInt32BE(box.start) & 0xffffff;
      out.trackId = buf.readUInt32BE(box.start + 4);
      let at = box.start + 8;
      if (flags & 0x01) at += 8; // base-data-offset
      if (flags & 0x02) at += 4; // sample-description-index
      if (flags & 0x08) {
        need(box, at + 4 - box.start);
        out.defaultSampleDuration = buf.readUInt32BE(at);
        at += 4;
      }
      if (flags & 0x10) at += 4; // default-sample-size
      if (flags & 0x20) {
        need(box, at + 4 - box.start);
        out.defaultSampleFlags = buf.readUInt32BE(at);
      }
    } else if (box.type === 'tfdt') {
      need(box, 8);
      if (buf[box.start] === 1) {
        need(box, 12);
        const time = buf.readBigUInt64BE(box.start + 4);
        if (time > BigInt(Number.MAX_SAFE_INTEGER)) throw new Fmp4Error('malformed-box', 'tfdt beyond 2^53');
        out.decodeTime = Number(time);
      } else {
        out.decodeTime = buf.readUInt32BE(box.start + 4);
      }
    } else if (box.type === 'trun') {
      out.runs.push(parseTrun(buf, box));
    }
  }
  if (!sawTfhd) throw new Fmp4Error('malformed-box', 'traf without tfhd');
  return out;
}

function parseTrun(buf: Buffer, box: Box): Trun {
  need(box, 8);
  const flags = buf.readUInt32BE(box.start) & 0xffffff;
  const sampleCount = buf.readUInt32BE(box.start + 4);
  let at = box.start + 8;
  if (flags & 0x01) at += 4; // data-offset
  let firstSampleFlags: number | undefined;
  if (flags & 0x04) {
    need(box, at + 4 - box.start);
    firstSampleFlags = buf.readUInt32BE(at);
    at += 4;
  }
  const hasDuration = (flags & 0x100) !== 0;
  const hasSize = (flags & 0x200) !== 0;
  const hasFlags = (flags & 0x400) !== 0;
  const hasCto = (flags & 0x800) !== 0;
  const stride = 4 * (Number(hasDuration) + Number(hasSize) + Number(hasFlags) + Number(hasCto));
  // The sample table must fit the box: a hostile count cannot make us loop or allocate beyond it.
  if (sampleCount * stride > box.end - at) throw new Fmp4Error('malformed-box', `trun of ${sampleCount} samples overruns its box`);
  if (stride === 0 && sampleCount > 1 << 20) throw new Fmp4Error('malformed-box', `trun of ${sampleCount} samples`);
  const durations = hasDuration ? new Array<number>(sampleCount) : null;
  const sampleFlags = hasFlags ? new Array<number>(sampleCount) : null;
  for (let i = 0; i < sampleCount; i++) {
    if (durations) durations[i] = buf.readUInt32BE(at);
    if (sampleFlags) sampleFlags[i] = buf.readUInt32BE(at + 4 * (Number(hasDuration) + Number(hasSize)));
    at += stride;
  }
  return { sampleCount, durations, flags: sampleFlags, firstSampleFlags };
}
