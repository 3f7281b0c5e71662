import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';

/** How long an ffmpeg asked to stop (SIGTERM: it closes the SRT socket, so the caller knows at once) gets before SIGKILL. */
const stopGraceMs = 2000;

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** One promise per child, however many wait for it: each wait adding its own listeners would pile them up. */
const exits = new WeakMap<ChildProcess, Promise<void>>();

/** Resolves once `child` has exited (at once if it has, or never started). */
export function exited(child: ChildProcess): Promise<void> {
  if (hasExited(child) || child.pid === undefined) return Promise.resolve();
  let exit = exits.get(child);
  if (!exit) {
    exit = new Promise((resolve) => {
      const done = () => {
        child.off('exit', done);
        child.off('error', onError);
        resolve();
      };
      // A child that failed to start emits 'error' and maybe no 'exit'.
      const onError = () => {
        if (child.pid === undefined || hasExited(child)) done();
      };
      child.on('exit', done);
      child.on('error', onError);
    });
    exits.set(child, exit);
  }
  return exit;
}

/** Asks `child` to stop, kills it if it does not in time, and resolves once it is gone. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (hasExited(child) || child.pid === undefined) return;
  const gone = exited(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), stopGraceMs);
  await gone;
  clearTimeout(timer);
}

/** The socket inodes a process holds (Linux); empty when it cannot be read. */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/**
 * Whether process `pid` has bound UDP `port` (Linux: its sockets against
 * /proc/net/udp and udp6). ffmpeg says nothing when its SRT listener is
 * up, and a caller that comes earlier waits out its connect timeout.
 * null when /proc cannot tell (not Linux).
 */
export function holdsUdpPort(pid: number, port: number): boolean | null {
  const inodes = socketInodes(pid);
  let readable = false;
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'utf8');
      readable = true;
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      if (!local || fields[9] === undefined) continue;
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port && inodes.has(fields[9])) return true;
    }
  }
  return readable ? false : null;
}
