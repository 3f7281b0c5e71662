/** One finished segment as ffmpeg's own HLS playlist lists it. */
export interface RunSegment {
  file: string;
  duration: number;
  pdt: number | undefined;
}

/**
 * Reads the playlist ffmpeg keeps for one encoder run. ffmpeg lists a
 * segment only once it is closed, so every entry is a whole file.
 */
export function parseRunPlaylist(text: string): RunSegment[] {
  const out: RunSegment[] = [];
  let duration: number | undefined;
  let pdt: number | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
      const t = Date.parse(line.slice('#EXT-X-PROGRAM-DATE-TIME:'.length));
      pdt = Number.isNaN(t) ? undefined : t;
    } else if (line.startsWith('#EXTINF:')) {
      duration = Number.parseFloat(line.slice('#EXTINF:'.length));
    } else if (line && !line.startsWith('#') && duration !== undefined) {
      out.push({ file: line, duration, pdt });
      duration = undefined;
      pdt = undefined;
    }
  }
  return out;
}
