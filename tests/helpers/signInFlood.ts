/**
 * A sign-in flood from another process (run with `node --import tsx`), so
 * that the attackers' own work does not share the server's event loop: the
 * test measures the server, not its clients.
 *
 * Argument: JSON { url, username, addresses, perAddress, maxPerWorker, deadlineMs }.
 * Stdout, one JSON object a line: { event: 'started' }, { event: 'limited', address }
 * the first time an address gets a 429, and at the end { event: 'done', answers }.
 * A line 'stop' on stdin ends the flood (requests in flight are awaited).
 */
import readline from 'node:readline';
import { rawRequest, type RawResponse } from './attackClient.js';

interface Options {
  url: string;
  username: string;
  addresses: string[];
  perAddress: number;
  maxPerWorker: number;
  deadlineMs: number;
}

export interface FloodAnswer {
  status: number;
  retryAfter?: string;
  code?: string;
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const deadline = Date.now() + options.deadlineMs;
let stopping = false;
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'stop') stopping = true;
});
const say = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);

const answers: Record<string, FloodAnswer[]> = Object.fromEntries(options.addresses.map((a) => [a, []]));
const limited = new Set<string>();

async function attack(address: string, worker: number): Promise<void> {
  for (let i = 0; i < options.maxPerWorker && !stopping && Date.now() < deadline; i++) {
    const res = await rawRequest(options.url, {
      method: 'POST',
      path: '/api/auth/sign-in',
      localAddress: address,
      // A different X-Forwarded-For on every request: the server must not believe it (no trusted proxy).
      headers: { 'content-type': 'application/json', 'x-forwarded-for': `198.51.100.${((i * 16 + worker) % 250) + 1}` },
      body: JSON.stringify({ username: options.username, password: `doan-thu-${worker}-${i}` }),
    }).catch((error: Error): RawResponse => ({ status: 0, headers: {}, body: error.message }));
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
process.exit(0);
