/**
 * The same CPU budget for each SFU: a cgroup (the v1 `cpu` controller, or
 * cgroup v2 where that is what the machine has) with a CFS quota, holding
 * the SFU's own processes for one step. On 2 cores the werift receivers
 * need ~3× the CPU the SFUs do, so without a budget the load client runs
 * out long before either SFU loses a packet; with both SFUs held to the same
 * fraction of a core, each reaches its loss knee within the load client's
 * reach, and "receivers per core below 1 % loss" is measured, not
 * extrapolated. The quota's period is short (10 ms) so a throttled SFU is
 * held back in slices a socket buffer absorbs, not in 100 ms stalls.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The machine has no cgroup CPU controller this bench can use, or writing to it failed (root needed). */
export class CpuLimitError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CpuLimitError';
  }
}

const periodUs = 10_000;

let made = 0;

export class CpuLimit {
  readonly percentOfCore: number;
  readonly #dir: string;
  readonly #root: string;
  readonly #v2: boolean;
  #open = true;

  /**
   * hostPid: a process outside the bench's network namespace, through whose /proc/<pid>/root
   * the machine's /sys/fs/cgroup is reached (`ip netns exec` mounts a /sys without it).
   */
  constructor(percentOfCore: number, hostPid?: number) {
    this.percentOfCore = percentOfCore;
    const quotaUs = Math.max(1000, Math.round((periodUs * percentOfCore) / 100));
    const cgroups = `${hostPid ? `/proc/${hostPid}/root` : ''}/sys/fs/cgroup`;
    const v1Root = path.join(cgroups, 'cpu');
    const v2Root = cgroups;
    this.#v2 = !fs.existsSync(path.join(v1Root, 'cpu.cfs_quota_us')) && fs.existsSync(path.join(v2Root, 'cgroup.controllers'));
    this.#root = this.#v2 ? v2Root : v1Root;
    this.#dir = path.join(this.#root, `diemcau-duel-${process.pid}-${++made}`);
    try {
      fs.mkdirSync(this.#dir);
      if (this.#v2) fs.writeFileSync(path.join(this.#dir, 'cpu.max'), `${quotaUs} ${periodUs}`);
      else {
        fs.writeFileSync(path.join(this.#dir, 'cpu.cfs_period_us'), String(periodUs));
        fs.writeFileSync(path.join(this.#dir, 'cpu.cfs_quota_us'), String(quotaUs));
      }
    } catch (error) {
      this.close();
      throw new CpuLimitError(`could not make a CPU-limited cgroup in ${this.#root}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Puts a process (all its threads, and the children it makes from now on) under the budget. */
  add(pid: number | undefined): void {
    if (pid !== undefined) fs.writeFileSync(path.join(this.#dir, 'cgroup.procs'), String(pid));
  }

  /** Takes a process back out (a child the SFU's process made that is not the SFU: the feed, the load client). */
  release(pid: number | undefined): void {
    if (pid !== undefined) fs.writeFileSync(path.join(this.#root, 'cgroup.procs'), String(pid));
  }

  /**
   * How long the SFU was held back so far (ms), averaged over the cores: the kernel
   * counts it per core's run queue, so a group held back on both cores for 1 s reads 2 s.
   */
  throttledMs(): number {
    return this.#throttledSumMs() / os.cpus().length;
  }

  #throttledSumMs(): number {
    try {
      const stat = fs.readFileSync(path.join(this.#dir, 'cpu.stat'), 'utf8');
      const v2 = /throttled_usec (\d+)/.exec(stat);
      if (v2) return Number(v2[1]) / 1000;
      const v1 = /throttled_time (\d+)/.exec(stat);
      return v1 ? Number(v1[1]) / 1e6 : NaN;
    } catch {
      return NaN;
    }
  }

  /** Moves whatever is left back to the root and removes the cgroup; safe to call twice. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    try {
      const left = fs.readFileSync(path.join(this.#dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
      for (const pid of left) {
        try {
          fs.writeFileSync(path.join(this.#root, 'cgroup.procs'), pid);
        } catch {
          /* exited meanwhile */
        }
      }
      fs.rmdirSync(this.#dir);
    } catch {
      /* never made, or already gone */
    }
  }
}
