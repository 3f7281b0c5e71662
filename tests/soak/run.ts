/**
 * The long attack (`npm run soak`): the real server (`sfu/main.ts`) in its own
 * process, on loopback, attacked for SOAK_MINUTES (default 10) by hostile
 * clients in turn — replies nobody reads, malformed frames, a sign-in flood,
 * transports opened by sockets that vanish — while a legitimate client
 * measures what everyone else lives through: the latency of health, of the
 * live playlist and of a join. Then the attack stops and the server's memory
 * must come back to within 10 % of its idle figure (both read after a full
 * collection, the idle one after a brief round of each attack). Prints a
 * table; exits 1 if the server died or its memory did not come back.
 *
 * To find what memory stays: SOAK_KEEP=<folder> keeps the idle and after heap
 * snapshots there; SOAK_ATTACKS=<name>,<name> runs only those attacks.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { quantile } from '../helpers/attackClient.js';
import { startServerProcess } from '../helpers/serverProcess.js';

const minutes = Number(process.env.SOAK_MINUTES ?? 10);
/** SOAK_KEEP=<folder>: the idle and after heap snapshots are kept there, to compare what the attack left. */
const keepDir = process.env.SOAK_KEEP;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-soak-'));
// Node does not create the folder it writes heap snapshots to: without it, SIGUSR2 fails (ENOENT) before
// it collects, and the "collected" heap read after it was whatever the heap held at that moment.
const diagnosticsDir = path.join(dataDir, 'diagnostics');
fs.mkdirSync(diagnosticsDir);
const password = 'soak-admin-password';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- the server, as a province runs it ------------------------------------------
const started = await startServerProcess({
  dataDir,
  env: { DIEMCAU_ADMIN_PASSWORD: password },
  // SIGUSR2 writes a heap snapshot, which first collects: the only honest reading of memory kept.
  nodeArgs: ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${diagnosticsDir}`],
}).catch((error: Error) => {
  console.log(error.message);
  fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(1);
});
const server = started.child;
const { url } = started;
const wsUrl = url.replace('http', 'ws');
let exited: number | string | null = null;
server.on('exit', (code, signal) => (exited = code ?? signal));

/** Stops the server, removes its folder, and exits with `code`. */
async function finish(code: number): Promise<never> {
  if (exited === null) {
    const gone = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await Promise.race([gone, sleep(10_000)]);
    server.kill('SIGKILL');
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(code);
}

// ---- an operator sets up a live, recorded session ---------------------------------
const signIn = await fetch(`${url}/api/auth/sign-in`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', origin: url },
  body: JSON.stringify({ username: 'admin', password }),
});
const cookie = signIn.headers.get('set-cookie')?.split(';')[0] ?? '';
const asOperator = (p: string, body?: unknown) =>
  fetch(`${url}/api${p}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', origin: url, cookie },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
await asOperator('/sessions', { id: 'soak', title: 'Soak', public: true });
await asOperator('/sessions/soak/live', {});
const invitation = async (identity: string, role: string) => {
  const res = await asOperator('/sessions/soak/invitations', { role, identity, name: identity });
  return ((await res.json()) as { token: string }).token;
};
const pointTokens = await Promise.all(Array.from({ length: 12 }, (_, i) => invitation(`xa-${i}`, 'point')));
const probeToken = await invitation('probe', 'viewer');

// ---- what everyone else lives through ---------------------------------------------
async function timed(task: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await task();
  return performance.now() - started;
}

async function joinOnce(): Promise<void> {
  const ws = new WebSocket(`${wsUrl}/ws?token=${probeToken}`);
  const replies = new Map<number, (data: unknown) => void>();
  ws.on('message', (raw) => {
    const message = JSON.parse((raw as Buffer).toString('utf8')) as { id?: number; data?: unknown };
    if (message.id !== undefined) replies.get(message.id)?.(message.data);
  });
  const request = (id: number, method: string, data: unknown) =>
    new Promise<unknown>((resolve, reject) => {
      replies.set(id, resolve);
      ws.send(JSON.stringify({ id, method, data }));
      setTimeout(() => reject(new Error(`${method}: no reply`)), 15_000);
    });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const capabilities = await request(1, 'router.capabilities', {});
  await request(2, 'join', { rtpCapabilities: capabilities });
  ws.close();
}

interface Sample {
  health: number[];
  hls: number[];
  join: number[];
}

async function measure(ms: number): Promise<Sample> {
  const sample: Sample = { health: [], hls: [], join: [] };
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && exited === null) {
    sample.health.push(await timed(() => fetch(`${url}/api/health`).then((r) => r.text())));
    sample.hls.push(await timed(() => fetch(`${url}/hls/soak/live.m3u8`).then((r) => r.text())));
    sample.join.push(await timed(() => joinOnce().catch(() => undefined)));
    await sleep(200);
  }
  return sample;
}

async function memory(): Promise<{ rssMb: number; heapMb: number }> {
  const status = fs.readFileSync(`/proc/${server.pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  // Once more on a reset: a kept-alive connection may be closed by the server just as it is reused
  // (its keep-alive timer fires late after a heap snapshot held its event loop for seconds).
  const metrics = await fetch(`${url}/metrics`)
    .catch(() => sleep(200).then(() => fetch(`${url}/metrics`)))
    .then((r) => r.text());
  const heap = Number(/^diemcau_nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1] ?? 0);
  return { rssMb: rssKb / 1024, heapMb: heap / 1024 / 1024 };
}

// ---- run --------------------------------------------------------------------------
const allAttacks = ['replies nobody reads', 'malformed frames', 'sign-in flood', 'vanishing transports'];
/** SOAK_ATTACKS=<name>,<name>: only these attacks (to find which one leaves memory behind). */
const attacks = process.env.SOAK_ATTACKS ? process.env.SOAK_ATTACKS.split(',').map((a) => a.trim()) : allAttacks;
for (const name of attacks) if (!allAttacks.includes(name)) throw new Error(`no attack named ${name}`);

/**
 * One attack from its own process (tests/soak/attacks.ts): the attackers'
 * work must not share the event loop of the client that measures.
 */
function attack(name: string, until: number): Promise<string> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, 'attacks.ts'), JSON.stringify({ name, until, url, pointTokens })],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('exit', () => resolve(out.trim())));
}

/**
 * Heap in use after a full collection: a heap snapshot (written, then removed
 * unless SOAK_KEEP names a folder for it) forces one. Without a snapshot there
 * was no collection, and the figure would be noise: the soak stops.
 */
async function collectedHeapMb(label: string): Promise<number> {
  const before = new Set(fs.readdirSync(diagnosticsDir));
  server.kill('SIGUSR2');
  const deadline = Date.now() + 60_000;
  let snapshot: string | undefined;
  while (!snapshot && Date.now() < deadline && exited === null) {
    await sleep(500);
    snapshot = fs.readdirSync(diagnosticsDir).find((f) => !before.has(f));
  }
  if (!snapshot) {
    console.log(`FAIL: no heap snapshot was written, so no collection happened: ${started.output().slice(-1500)}`);
    return finish(1);
  }
  // The server writes the snapshot on its event loop: once it answers, the file is whole.
  const reading = await memory();
  const file = path.join(diagnosticsDir, snapshot);
  if (keepDir) {
    fs.mkdirSync(keepDir, { recursive: true });
    fs.copyFileSync(file, path.join(keepDir, `${label}.heapsnapshot`));
  }
  fs.rmSync(file, { force: true });
  return reading.heapMb;
}
const attackMs = Math.max(15_000, ((minutes - 1) * 60_000) / attacks.length);
const row = (name: string, s: Sample, note: string) =>
  `| ${name} | ${[s.health, s.hls, s.join].map((v) => `${quantile(v, 0.5).toFixed(1)} / ${quantile(v, 0.95).toFixed(1)}`).join(' | ')} | ${note} |`;

/** Timers, sockets closing and collections: the same wait before both memory readings. */
const settleMs = 30_000;
/**
 * Each attack once, briefly, before the idle reading. The first time a server
 * meets an attack, V8 compiles and optimizes the code that answers it: in the
 * heap, 2 MB of code and its metadata (a 10-minute soak without this round:
 * the "code" of the heap snapshot grew 7.1 → 9.5 MB, while its objects grew
 * 20 kB). That happens once in a server's life and stays only while those paths
 * are hot; it is not what an attack leaves behind, and a server in service has
 * run these paths long before. Without this round the idle figure would be of
 * a server that never met an attack, and the compiler's work would count
 * against the 10 %.
 */
const warmUpMs = 5_000;

const rows: string[] = [];
await sleep(5000); // the recorder's first segments
for (const name of attacks) await attack(name, Date.now() + warmUpMs);
await sleep(settleMs);
const idle = await measure(10_000);
const idleMemory = { ...(await memory()), heapMb: await collectedHeapMb('idle') };
rows.push(row('idle', idle, `RSS ${idleMemory.rssMb.toFixed(0)} MB, heap ${idleMemory.heapMb.toFixed(0)} MB (collected)`));
for (const name of attacks) {
  const until = Date.now() + attackMs;
  const [note, during] = await Promise.all([attack(name, until), measure(attackMs)]);
  const m = exited === null ? await memory() : { rssMb: 0, heapMb: 0 };
  rows.push(row(name, during, `${note}; RSS ${m.rssMb.toFixed(0)} MB, heap ${m.heapMb.toFixed(0)} MB`));
  if (exited !== null) break;
}
let after = { rssMb: 0, heapMb: 0 };
if (exited === null) {
  // Let the server settle (timers, collections) before the last reading, as before the idle one.
  await sleep(settleMs);
  const quiet = await measure(10_000);
  after = { ...(await memory()), heapMb: await collectedHeapMb('after') };
  rows.push(row('after', quiet, `RSS ${after.rssMb.toFixed(0)} MB, heap ${after.heapMb.toFixed(0)} MB (collected)`));
}

console.log(`\nSoak: ${minutes} min, ${os.availableParallelism()} cores, load before ${os.loadavg()[0].toFixed(2)}`);
console.log('| phase | health p50 / p95 ms | live playlist p50 / p95 ms | join p50 / p95 ms | notes |');
console.log('| --- | --- | --- | --- | --- |');
for (const line of rows) console.log(line);

const heapBack = after.heapMb <= idleMemory.heapMb * 1.1;
if (exited !== null) {
  console.log(`\nFAIL: the server exited (${String(exited)}): ${started.output().slice(-1500)}`);
  await finish(1);
}
console.log(
  `\nmemory after the attack: heap ${after.heapMb.toFixed(1)} MB vs ${idleMemory.heapMb.toFixed(1)} MB idle (${heapBack ? 'within' : 'NOT within'} 10 %)`,
);
await finish(heapBack ? 0 : 1);
