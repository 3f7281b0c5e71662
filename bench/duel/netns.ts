/**
 * The duel's own network namespace: Janus gathers no ICE candidates on `lo`,
 * so the duel runs inside a namespace with a veth pair, one end holding
 * 10.203.0.1/24 (and its own `lo`). Nothing in it reaches the machine's
 * network, and the kernel's UDP counters (/proc/net/snmp) count only the duel.
 */
import { execFileSync } from 'node:child_process';

export const duelAddress = '10.203.0.1';

/** Creating or deleting the namespace failed (the bench needs root for `ip netns`). */
export class NetnsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NetnsError';
  }
}

/** A network namespace made by this bench, deleted by close(). */
export class DuelNetns {
  readonly name: string;
  #open = false;

  constructor(name = `diemcau-duel-${process.pid}`) {
    this.name = name;
  }

  create(): void {
    const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      ip('netns', 'add', this.name);
      this.#open = true;
      ip('-n', this.name, 'link', 'set', 'lo', 'up');
      // A veth pair with both ends inside (this kernel may have no `dummy` module): an
      // interface that is not loopback, holding the address Janus and werift gather on.
      ip('-n', this.name, 'link', 'add', 'duel0', 'type', 'veth', 'peer', 'name', 'duel1');
      ip('-n', this.name, 'addr', 'add', `${duelAddress}/24`, 'dev', 'duel0');
      ip('-n', this.name, 'link', 'set', 'duel1', 'up');
      ip('-n', this.name, 'link', 'set', 'duel0', 'up');
    } catch (error) {
      this.close();
      throw new NetnsError(`could not set up network namespace ${this.name}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Deletes the namespace (its interfaces go with it); safe to call twice. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
}
