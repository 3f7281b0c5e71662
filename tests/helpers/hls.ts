import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

export interface PlaylistEntry {
  file: string;
  duration: number;
  discontinuity: boolean;
  pdt?: string;
}

/** Parses a media playlist the way a player reads it. */
export function readPlaylist(file: string): { tags: string[]; entries: PlaylistEntry[]; ended: boolean } {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const tags: string[] = [];
  const entries: PlaylistEntry[] = [];
  let pending: Partial<PlaylistEntry> = {};
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (!line) continue;
    if (line === '#EXT-X-DISCONTINUITY') pending.discontinuity = true;
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pending.pdt = line.split(':').slice(1).join(':');
    else if (line.startsWith('#EXTINF:')) pending.duration = Number.parseFloat(line.slice(8));
    else if (line.startsWith('#')) tags.push(line);
    else {
      entries.push({ file: line, duration: pending.duration ?? 0, discontinuity: !!pending.discontinuity, pdt: pending.pdt });
      pending = {};
    }
  }
  return { tags, entries, ended: tags.includes('#EXT-X-ENDLIST') };
}

/** ffprobe's view of a segment: its streams and whether its first video frame is a keyframe. */
export function probeSegment(file: string): { codecs: string[]; firstVideoFrameIsKey: boolean; duration: number } {
  const streams = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name:format=duration', '-of', 'json', file], {
    encoding: 'utf8',
  });
  if (streams.status !== 0) throw new Error(`ffprobe failed on ${file}: ${streams.stderr}`);
  const info = JSON.parse(streams.stdout);
  const frames = spawnSync(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-read_intervals', '%+#1', '-show_entries', 'frame=key_frame,pict_type', '-of', 'json', file],
    { encoding: 'utf8' },
  );
  const first = JSON.parse(frames.stdout || '{}').frames?.[0];
  return {
    codecs: (info.streams ?? []).map((s: { codec_name: string }) => s.codec_name),
    firstVideoFrameIsKey: first?.key_frame === 1,
    duration: Number(info.format?.duration ?? 0),
  };
}

/** Duration of a media file as ffprobe reads it. */
export function probeDuration(file: string): number {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], { encoding: 'utf8' });
  return Number.parseFloat(r.stdout.trim());
}
