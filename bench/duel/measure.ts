/** What the duel reads from /proc: CPU of process groups, the machine's busy time, the namespace's UDP counters. */
import fs from 'node:fs';
import os from 'node:os';
import { cpuSeconds, systemBusySeconds } from '../fanout/proc.js';

/** The UDP counters of /proc/net/snmp (this network namespace only). */
export interface UdpCounters {
  inErrors: number;
  rcvbufErrors: number;
  sndbufErrors: number;
}

export function udpCounters(): UdpCounters {
  const lines = fs
    .readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Udp:'));
  const names = lines[0]?.split(/\s+/).slice(1) ?? [];
  const values = lines[1]?.split(/\s+/).slice(1).map(Number) ?? [];
  const get = (name: string) => values[names.indexOf(name)] ?? 0;
  return { inErrors: get('InErrors'), rcvbufErrors: get('RcvbufErrors'), sndbufErrors: get('SndbufErrors') };
}

/** A snapshot of the CPU time of named groups of processes, the machine's busy time and the UDP counters. */
export interface Snapshot {
  at: number;
  cpu: Record<string, number>;
  busy: number;
  udp: UdpCounters;
}

export function snapshot(groups: Record<string, (number | undefined)[]>): Snapshot {
  const cpu: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups)) cpu[name] = pids.reduce<number>((sum, pid) => sum + (cpuSeconds(pid) || 0), 0);
  return { at: performance.now(), cpu, busy: systemBusySeconds(), udp: udpCounters() };
}

/** Between two snapshots: each group's CPU in % of one core, the machine in % of all its cores, UDP drops. */
export function between(
  a: Snapshot,
  b: Snapshot,
): { seconds: number; cpuPct: Record<string, number>; machinePct: number; udpDrops: UdpCounters } {
  const seconds = (b.at - a.at) / 1000;
  const cpuPct: Record<string, number> = {};
  for (const name of Object.keys(a.cpu)) cpuPct[name] = ((b.cpu[name] - a.cpu[name]) / seconds) * 100;
  return {
    seconds,
    cpuPct,
    machinePct: ((b.busy - a.busy) / seconds / os.cpus().length) * 100,
    udpDrops: {
      inErrors: b.udp.inErrors - a.udp.inErrors,
      rcvbufErrors: b.udp.rcvbufErrors - a.udp.rcvbufErrors,
      sndbufErrors: b.udp.sndbufErrors - a.udp.sndbufErrors,
    },
  };
}

export function quantile(values: number[], q: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
