/**
 * Sign-in attacks from another process (run with `node --import tsx`), so
 * that the attackers' own work does not share the server's event loop, and
 * so that one process sees, in one order, every answer it gets.
 *
 * Argument: JSON options, one of two modes.
 *
 * - `flood` (the default) { url, username, addresses, perAddress, maxPerWorker, deadlineMs }:
 *   `perAddress` clients per address sign in one attempt after another until
 *   told to stop. Stdout, one JSON object a line: { event: 'started' },
 *   { event: 'limited', address } the first time an address gets a 429, and
 *   at the end { event: 'done', answers }. A line 'stop' on stdin ends the
 *   flood (requests in flight are awaited).
 *
 * - `burst` { url, username, addresses, perAddress, probes }: `perAddress`
 *   sign-ins from every address sent at once; at the first answer (the server
 *   is working on them) the probes are sent, each on its own connection. At the
 *   end, { event: 'done', timeline }: every answer in the order this process
 *   got it, with a 'probes sent' entry where the probes left.
 */
import readline from 'node:readline';
import { rawRequest, type RawResponse } from './attackClient.js';

interface Common {
  url: string;
  username: string;
  addresses: string[];
  perAddress: number;
}

interface FloodOptions extends Common {
  mode?: 'flood';
  maxPerWorker: number;
  deadlineMs: number;
}

/** A request someone else needs while the sign-ins go on. */
export interface Probe {
  name: string;
  path: string;
  headers: Record<string, string>;
}

interface BurstOptions extends Common {
  mode: 'burst';
  probes: Probe[];
}

export interface FloodAnswer {
  status: number;
  retryAfter?: string;
  code?: string;
}

/** One entry of a burst's timeline; `ms` since the burst was sent, a figure only (order is what counts). */
export type BurstEvent =
  | { kind: 'sign-in'; address: string; status: number; ms: number }
  | { kind: 'probes sent'; ms: number }
  | { kind: 'probe'; name: string; status: number; ms: number };

const options = JSON.parse(process.argv[2] ?? '{}') as FloodOptions | BurstOptions;
const say = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);

/** A sign-in with a wrong password from `address`; a failed connection is status 0. */
function signIn(address: string, password: string, forwardedFor: string): Promise<RawResponse> {
  return rawRequest(options.url, {
    method: 'POST',
    path: '/api/auth/sign-in',
    localAddress: address,
    // A different X-Forwarded-For on every request: the server must not believe it (no trusted proxy).
    headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
    body: JSON.stringify({ username: options.username, password }),
  }).catch((error: Error): RawResponse => ({ status: 0, headers: {}, body: error.message }));
}

async function flood(options: FloodOptions): Promise<void> {
  const deadline = Date.now() + options.deadlineMs;
  let stopping = false;
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === 'stop') stopping = true;
  });
  const answers: Record<string, FloodAnswer[]> = Object.fromEntries(options.addresses.map((a) => [a, []]));
  const limited = new Set<string>();

  async function attack(address: string, worker: number): Promise<void> {
    for (let i = 0; i < options.maxPerWorker && !stopping && Date.now() < deadline; i++) {
      const res = await signIn(address, `doan-thu-${worker}-${i}`, `198.51.100.${((i * 16 + worker) % 250) + 1}`);
      let code: string | undefined;
      try {
        code = (JSON.parse(res.body) as { error?: { code?: string } }).error?.code;
      } catch {
        code = undefined;
      }
      const retryAfter = res.headers['retry-after'];
      answers[address].push({ status: res.status, ...(retryAfter !== undefined ? { retryAfter: String(retryAfter) } : {}), code });
      if (res.status === 429 && !limited.has(address)) {
        limited.add(address);
        say({ event: 'limited', address });
      }
    }
  }

  say({ event: 'started' });
  await Promise.all(options.addresses.flatMap((a) => Array.from({ length: options.perAddress }, (_v, w) => attack(a, w))));
  say({ event: 'done', answers });
}

async function burst(options: BurstOptions): Promise<void> {
  const timeline: BurstEvent[] = [];
  const started = performance.now();
  const ms = () => performance.now() - started;
  let firstAnswer!: () => void;
  const answered = new Promise<void>((resolve) => (firstAnswer = resolve));
  const signIns = options.addresses.flatMap((address, a) =>
    Array.from({ length: options.perAddress }, async (_v, i) => {
      const res = await signIn(address, `doan-thu-${a}-${i}`, `198.51.100.${((a * options.perAddress + i) % 250) + 1}`);
      timeline.push({ kind: 'sign-in', address, status: res.status, ms: ms() });
      firstAnswer();
    }),
  );
  await answered;
  timeline.push({ kind: 'probes sent', ms: ms() });
  const probes = options.probes.map(async (probe) => {
    const res = await rawRequest(options.url, { path: probe.path, headers: probe.headers }).catch((error: Error): RawResponse => ({
      status: 0,
      headers: {},
      body: error.message,
    }));
    timeline.push({ kind: 'probe', name: probe.name, status: res.status, ms: ms() });
  });
  await Promise.all([...signIns, ...probes]);
  say({ event: 'done', timeline });
}

if (options.mode === 'burst') await burst(options);
else await flood(options);
process.exit(0);
