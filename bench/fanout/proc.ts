import fs from 'node:fs';

const clockTicks = 100; // getconf CLK_TCK on Linux

/** utime + stime of a process, in seconds. */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state(0) ... utime is field 14 of the whole line, i.e. index 11 here.
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return NaN;
  }
}

/** The socket inodes a process holds. */
export function socketInodes(pid: number | undefined): Set<string> {
  const inodes = new Set<string>();
  if (!pid) return inodes;
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]);
      } catch {
        /* fd closed meanwhile */
      }
    }
  } catch {
    /* process gone */
  }
  return inodes;
}

/** Datagrams the kernel dropped on these sockets (receive buffer full), from /proc/net/udp. */
export function udpDrops(inodes: Set<string>): number {
  let drops = 0;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 13) continue;
      if (inodes.has(cols[9])) drops += Number(cols[cols.length - 1]);
    }
  }
  return drops;
}

/** Busy CPU time of the whole machine (all cores), in seconds. */
export function systemBusySeconds(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  return busy / clockTicks;
}
