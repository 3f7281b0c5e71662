import fs from 'node:fs';
import path from 'node:path';

/**
 * The pid of the ffmpeg that records into `dir` (a recording's folder), as
 * seen from outside the server: the process whose program is ffmpeg and one
 * of whose arguments is a file in that folder (the run's SDP, segments and
 * playlist). Undefined when none runs (between runs, or stopped); an error
 * when several do, since a folder has one writer. Linux only (/proc).
 */
export function recorderEncoderPid(dir: string): number | undefined {
  const folder = path.resolve(dir) + path.sep;
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile
    }
    // A zombie's cmdline is empty; setpriv (the parent-death wrapper) becomes ffmpeg when it execs it.
    if (path.basename(argv[0] ?? '').startsWith('ffmpeg') && argv.some((a) => a.startsWith(folder))) found.push(Number(entry));
  }
  if (found.length > 1) throw new Error(`${found.length} encoders write into ${dir}: ${found.join(', ')}`);
  return found[0];
}
