import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * util-linux's setpriv, when it can give a child a parent-death signal: an
 * encoder then dies with the server even when the server is killed outright
 * (SIGKILL, OOM), instead of writing on into the recordings folder beside the
 * next server's encoder.
 */
const setpriv = (() => {
  const probe = spawnSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore' });
  return probe.status === 0 ? 'setpriv' : null;
})();

/** Starts ffmpeg so that it cannot outlive this process. */
export function spawnEncoder(binary: string, args: string[], options: SpawnOptions): ChildProcess {
  // Node starts children from its main thread, the one whose exit the kernel watches.
  return setpriv ? spawn(setpriv, ['--pdeathsig', 'KILL', binary, ...args], options) : spawn(binary, args, options);
}

/**
 * Ends encoders an earlier server left writing into `dir` (one killed before
 * it could stop them, on a system without setpriv): one writer per folder.
 * Returns the pids it ended.
 */
export function endOrphanEncoders(dir: string): number[] {
  const folder = path.resolve(dir) + path.sep;
  const ended: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return ended; // not Linux: nothing to look at
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    const isEncoder = argv.some((a) => path.basename(a).startsWith('ffmpeg'));
    if (!isEncoder || !argv.some((a) => a.startsWith(folder))) continue;
    try {
      process.kill(pid, 'SIGKILL');
      ended.push(pid);
    } catch {
      // already gone
    }
  }
  return ended;
}
