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
      out.push({ file: ownCopy(line), duration, pdt });
      duration = undefined;
      pdt = undefined;
    }
  }
  return out;
}

/**
 * The name as a string of its own. A line cut from the playlist's text is, in
 * V8, a view into that whole text; the recording keeps every segment's name
 * for as long as the server runs, and the text is read again every half
 * second and grows with the run: views would keep one whole text alive per
 * segment, memory growing with the square of the session's length.
 */
function ownCopy(name: string): string {
  return Buffer.from(name, 'utf8').toString('utf8');
}
