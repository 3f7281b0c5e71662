import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

export interface FfmpegBinary {
  path: string;
  /** Where it came from, for the logs: 'ffmpeg-static' or 'system'. */
  origin: 'ffmpeg-static' | 'system' | 'configured';
  version: string;
}

/**
 * The ffmpeg the recorder runs: FFMPEG_PATH if set, else the one the optional
 * `ffmpeg-static` package downloaded (it cannot offline), else the system's.
 */
export function findFfmpeg(env: NodeJS.ProcessEnv = process.env): FfmpegBinary {
  const candidates: [string | undefined, FfmpegBinary['origin']][] = [[env.FFMPEG_PATH, 'configured']];
  try {
    candidates.push([createRequire(import.meta.url)('ffmpeg-static') as string, 'ffmpeg-static']);
  } catch {
    // not installed: fine
  }
  candidates.push(['ffmpeg', 'system']);
  for (const [path, origin] of candidates) {
    if (!path) continue;
    const probe = spawnSync(path, ['-hide_banner', '-version'], { encoding: 'utf8' });
    if (probe.status === 0) return { path, origin, version: probe.stdout.split('\n')[0] ?? '' };
  }
  throw new Error('ffmpeg not found: install it (apt-get install ffmpeg) or set FFMPEG_PATH');
}
