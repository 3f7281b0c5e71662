/**
 * Attacks on the running server's HTTP side, from outside, with real HTTP
 * clients: a sign-in flood from several addresses must be refused per address
 * (429 + Retry-After), and what everyone else needs (health, the live
 * playlist, a document) must not wait behind its password hashes; and every route the OpenAPI document lists,
 * plus /hls path tricks and unknown routes, answers a bad token, a malformed
 * body and an unknown or undecodable id with the protocol's JSON error and a
 * 4xx — never HTML, never a stack, never a 500.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { errorBodySchema, httpStatusOf } from '../../protocol/index.js';
import { quantile, rawRequest, type RawResponse } from '../helpers/attackClient.js';
import type { BurstEvent, FloodAnswer, Probe } from '../helpers/signInFlood.js';
import { startServer, tokenFor } from '../helpers/server.js';

let server: Awaited<ReturnType<typeof startServer>>;
const admin = { username: 'chanh-vp', password: 'mat-khau-rat-dai' };
const ids: Record<string, string> = {};
const tokens: Record<string, string> = {};
const pdf = Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n%%EOF\n');

/** A recording folder as the recorder leaves it: meta.json and a live playlist with one segment. */
function writeRecording(sessionId: string, isPublic: boolean): void {
  const dir = path.join(server.config.dataDir, 'recordings', sessionId);
  fs.mkdirSync(dir, { recursive: true });
  const meta = { sessionId, title: sessionId, status: 'recording', startedAt: Date.now(), duration: 4, public: isPublic };
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
  const playlist = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:2', '#EXTINF:2.000,', 'r0001-00001.ts', ''];
  fs.writeFileSync(path.join(dir, 'live.m3u8'), playlist.join('\n'));
  fs.writeFileSync(path.join(dir, 'r0001-00001.ts'), Buffer.alloc(188 * 100, 0x47));
}

const json = (token?: string) => ({
  'content-type': 'application/json',
  ...(token ? { authorization: `Bearer ${token}` } : {}),
});

beforeAll(async () => {
  // The defaults of a production start, but for the demo (off) and the admin's password (given).
  server = await startServer({ workers: 1, adminUser: admin.username, adminPassword: admin.password });
  writeRecording('truc-tiep', true);
  writeRecording('kin', false);
  tokens.operator = await tokenFor(server, '*', 'thu-ky', 'operator');
  const post = async (p: string, body: unknown) => {
    const res = await fetch(`${server.url}${p}`, { method: 'POST', headers: json(tokens.operator), body: JSON.stringify(body) });
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as { id: string };
  };
  await post('/api/sessions', { id: 'oa', title: 'Họp có tài liệu' });
  ids.pointId = (await post('/api/points', { id: 'p-1', name: 'Xã Một' })).id;
  ids.groupId = (await post('/api/groups', { id: 'g-1', name: 'Huyện Một' })).id;
  const upload = await fetch(`${server.url}/api/sessions/oa/documents?filename=bao-cao.pdf`, {
    method: 'POST',
    headers: { 'content-type': 'application/pdf', authorization: `Bearer ${tokens.operator}` },
    body: pdf,
  });
  expect(upload.status).toBe(201);
  ids.documentId = ((await upload.json()) as { id: string }).id;
  tokens.point = await tokenFor(server, 'oa', 'xa-a', 'point');
});

afterAll(async () => {
  await server?.stop();
});

describe('an unauthenticated sign-in flood', () => {
  /** What everyone else needs while it goes on: liveness, the live playlist (file serving), a document (token check + file). */
  const targets = (): Probe[] => [
    { name: 'health', path: '/api/health', headers: {} },
    { name: 'hls', path: '/hls/truc-tiep/live.m3u8', headers: {} },
    { name: 'document', path: `/api/documents/${ids.documentId}`, headers: { authorization: `Bearer ${tokens.point}` } },
  ];

  /** Runs signInFlood.ts in its own process; its JSON lines go to `onLine`, resolves once it exits. */
  function runAttacker(options: object, onLine: (message: Record<string, unknown>) => void) {
    const script = fileURLToPath(new URL('../helpers/signInFlood.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'inherit'] });
    readline.createInterface({ input: child.stdout }).on('line', (line) => onLine(JSON.parse(line) as Record<string, unknown>));
    // 'close', not 'exit': by then every line it wrote has been read.
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    return { child, exited };
  }

  /**
   * libuv's thread pool, which scrypt, file reads (sendFile) and WebCrypto
   * (token checks) share: its size is this process's (the server runs in the
   * test's process), UV_THREADPOOL_SIZE or 4.
   */
  const threadPoolSize = () => Math.min(1024, Math.max(1, Number(process.env.UV_THREADPOOL_SIZE) || 4));

  /**
   * Order, not time. A burst of sign-ins, all let past the per-address limit
   * (hashed, or refused as busy), is sent at once; at its first answer the
   * server is working on it, and health, the live playlist and a document are
   * asked for. Counted in the attacker's process, in the order its answers
   * came: how many sign-ins were answered after a hash (401) while each of
   * those three waited.
   *
   * With the fix, one hash at a time holds one pool thread and the others are
   * free: a file read or token check never waits for a hash, only for the CPU
   * it shares with the hash running (a few ms of work against ~50 ms of
   * hashing per sign-in, however slow the machine), so at most the hash
   * running and the next finish meanwhile.
   * With the defect (every hash handed to the pool at once), libuv's queue is
   * first in, first out: each of the playlist's and the document's pool tasks
   * starts only after every hash queued before it has started, i.e. after all
   * but `pool` of them have finished. At the first answer at most `pool`
   * hashes are done and `pool` more running, so at least
   * burst − 2·pool + 1 = 13 are answered while they wait: 13 against at most 2.
   * (Health needs no pool thread: it is there as liveness, not to tell the two apart.)
   */
  it('answers health, the live playlist and a document without waiting behind the password hashes of a burst of sign-ins', async () => {
    const pool = threadPoolSize();
    const perAddress = Math.min(4, server.config.maxSignInPerMinute);
    const burstSize = 2 * pool + 12;
    // Addresses of this machine (127.0.0.x) the flood below does not use; the limit is per address.
    const addresses = Array.from(
      { length: Math.ceil(burstSize / perAddress) },
      (_v, i) => `127.0.${1 + Math.floor(i / 200)}.${20 + (i % 200)}`,
    );
    let timeline: BurstEvent[] | undefined;
    const attacker = runAttacker(
      { mode: 'burst', url: server.url, username: admin.username, addresses, perAddress, probes: targets() },
      (m) => {
        if (m.event === 'done') timeline = m.timeline as BurstEvent[];
      },
    );
    expect(await attacker.exited, 'the burst exited').toBe(0);
    expect(timeline, 'the burst’s timeline').toBeDefined();
    const events = timeline!;

    const signIns = events.filter((e) => e.kind === 'sign-in');
    const sentAt = events.findIndex((e) => e.kind === 'probes sent');
    const lastHashed = events.map((e) => e.kind === 'sign-in' && e.status === 401).lastIndexOf(true);
    const figures = targets().map(({ name }) => {
      const at = events.findIndex((e) => e.kind === 'probe' && e.name === name);
      const answer = events[at] as Extract<BurstEvent, { kind: 'probe' }>;
      const hashedMeanwhile = events.slice(sentAt, at).filter((e) => e.kind === 'sign-in' && e.status === 401).length;
      return { name, at, status: answer?.status, hashedMeanwhile, ms: answer ? answer.ms - events[sentAt].ms : Number.NaN };
    });
    const by = (status: number) => signIns.filter((e) => e.status === status).length;
    const hashMs = signIns.filter((e) => e.status === 401).map((e) => e.ms);
    console.log(
      `sign-in burst: ${signIns.length} at once from ${addresses.length} addresses (thread pool ${pool}): 401 ×${by(401)}, 503 ×${by(503)}; ` +
        `hashed answers at ${hashMs.map((m) => m.toFixed(0)).join(' ')} ms; probes sent at ${events[sentAt].ms.toFixed(0)} ms\n` +
        figures.map((f) => `  ${f.name.padEnd(8)} ${f.ms.toFixed(1)} ms, ${f.hashedMeanwhile} sign-ins hashed meanwhile`).join('\n'),
    );

    // Each sign-in was hashed (401) or refused as busy (503): none was over the per-address limit.
    expect(signIns.length).toBe(burstSize);
    expect(
      signIns.filter((e) => ![401, 503].includes(e.status)),
      'burst statuses',
    ).toEqual([]);
    for (const f of figures) {
      expect(f.status, `${f.name} during the burst`).toBe(200);
      // It was asked while hashes went on, and answered before they were over …
      expect(f.at, `${f.name} answered before the last hashed sign-in`).toBeLessThan(lastHashed);
      // … without queueing behind them (the defect: ≥ burst − 2·pool + 1 of them).
      expect(f.hashedMeanwhile, `sign-ins hashed while ${f.name} waited`).toBeLessThanOrEqual(2);
    }
  }, 180_000);

  /** Round after round of one request to each target, timed (figures only); at least `min` rounds, then while `more()`, at most `max`. */
  async function measure(min: number, max: number, more: () => boolean): Promise<Record<string, number[]>> {
    const times: Record<string, number[]> = {};
    for (let round = 0; round < max && (round < min || more()); round++) {
      for (const t of targets()) {
        const started = performance.now();
        const res = await fetch(`${server.url}${t.path}`, { headers: t.headers });
        await res.arrayBuffer();
        expect(res.status, `${t.name} during the flood`).toBe(200);
        (times[t.name] ??= []).push(performance.now() - started);
      }
    }
    return times;
  }

  /** Starts the flood in its own process; resolves once it is sending. */
  async function startFlood(addresses: string[]) {
    const options = { url: server.url, username: admin.username, addresses, perAddress: 4, maxPerWorker: 400, deadlineMs: 60_000 };
    const limited = new Set<string>();
    let ended = false;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    let answers: Record<string, FloodAnswer[]> | undefined;
    const { child, exited } = runAttacker(options, (message) => {
      if (message.event === 'started') started();
      if (message.event === 'limited') limited.add(message.address as string);
      if (message.event === 'done') answers = message.answers as Record<string, FloodAnswer[]>;
    });
    const done = exited.then((code) => {
      ended = true;
      started();
      if (!answers) throw new Error(`the flood exited (${code}) without its answers`);
      return answers;
    });
    done.catch(() => undefined); // awaited by stop(); an early end must not be an unhandled rejection meanwhile
    await running;
    return {
      limited,
      get ended() {
        return ended;
      },
      stop: () => {
        child.stdin.end('stop\n');
        return done;
      },
    };
  }

  it('is refused per socket address with 429 and a growing Retry-After, while health, HLS and documents answer', async () => {
    const perMinute = server.config.maxSignInPerMinute;
    await measure(5, 5, () => false); // warm-up: first connections, first file opens
    const before = await measure(30, 30, () => false);

    // 16 at once, as in the attack, from four addresses of this machine (127.0.0.x).
    const attackers = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
    const flood = await startFlood(attackers);
    // While passwords are being hashed (until every address is refused), then 20 rounds into the stream of 429s.
    const hashing = await measure(10, 3000, () => !flood.ended && flood.limited.size < attackers.length);
    const refusing = await measure(20, 20, () => false);
    const during = Object.fromEntries(Object.keys(before).map((name) => [name, [...hashing[name], ...refusing[name]]]));
    const answers = await flood.stop();

    // Figures, not assertions: speed is measured in bench/. That these requests do not wait
    // behind password hashes is the test above, by order of answers.
    const report = Object.keys(before).map((name) => {
      const f = (s: number[]) => `p50 ${quantile(s, 0.5).toFixed(1)} ms, p95 ${quantile(s, 0.95).toFixed(1)} ms (${s.length})`;
      return `  ${name.padEnd(8)} before: ${f(before[name])}   during: ${f(during[name])}`;
    });
    const counts = Object.entries(answers).map(([a, list]) => {
      const by = (status: number) => list.filter((r) => r.status === status).length;
      return `${a}: ${list.length} attempts, 401 ×${by(401)}, 503 ×${by(503)}, 429 ×${by(429)}`;
    });
    console.log(`sign-in flood latencies\n${report.join('\n')}\nanswers by address\n  ${counts.join('\n  ')}`);

    for (const [address, list] of Object.entries(answers)) {
      expect(
        [...new Set(list.map((r) => r.status))].filter((s) => ![401, 429, 503].includes(s)),
        `${address}: statuses`,
      ).toEqual([]);
      // Every attempt let past the limit costs a password hash: no more than the limit within the flood's minute.
      expect(list.filter((r) => r.status !== 429).length, `${address}: attempts let through`).toBeLessThanOrEqual(perMinute);
      const limited = list.filter((r) => r.status === 429);
      expect(limited.length, `${address}: 429s`).toBeGreaterThan(0);
      const waits = limited.map((r) => Number(r.retryAfter));
      for (const [i, r] of limited.entries()) {
        expect(Number.isInteger(waits[i]) && waits[i] >= 1, `Retry-After ${r.retryAfter}`).toBe(true);
        expect(r.code).toBe('rate-limited');
      }
      // The wait grows while the address keeps trying.
      expect(waits.at(-1)!, `${address}: waits ${waits.join(' ')}`).toBeGreaterThan(waits[0]);
    }
    // The operator at another address is not locked out by the flood.
    const signIn = await fetch(`${server.url}/api/auth/sign-in`, { method: 'POST', headers: json(), body: JSON.stringify(admin) });
    expect(signIn.status).toBe(200);
  }, 180_000);
});

describe('errors on every route', () => {
  type Operation = {
    'x-diemcau-roles': string[] | 'anyone';
    security: Record<string, unknown>[];
    requestBody?: { content: Record<string, unknown> };
  };
  interface Case {
    why: string;
    method: string;
    path: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
  }

  const errorShape = z.object({ error: errorBodySchema.strict() }).strict();

  /** Why an answer is not the protocol's JSON error with a 4xx, or undefined when it is. */
  function problemWith(res: RawResponse): string | undefined {
    if (res.status < 400 || res.status > 499) return `status ${res.status}`;
    if (!/^application\/json/.test(res.headers['content-type'] ?? '')) return `content-type ${res.headers['content-type']}`;
    if (/<html|<pre|<!doctype|\n\s+at /i.test(res.body)) return 'HTML or a stack trace';
    if (res.headers['content-disposition']) return 'an attachment header';
    let parsed;
    try {
      parsed = errorShape.parse(JSON.parse(res.body));
    } catch {
      return `not { error: { code, message } }: ${res.body.slice(0, 120)}`;
    }
    const { code } = parsed.error;
    // An upload refusal keeps the status that says why (413 too large, 415 not a PDF).
    const expected = code === 'bad-request' && [413, 415].includes(res.status) ? res.status : httpStatusOf[code];
    return res.status === expected ? undefined : `status ${res.status} for code ${code}`;
  }

  /** A URL for a documented path, with ids that exist (a restricted recording for /hls). */
  function concrete(template: string, replace?: (name: string) => string): string {
    const known: Record<string, string> = {
      sid: template.startsWith('/hls/') ? 'kin' : 'oa',
      identity: 'xa-a',
      file: 'live.m3u8',
      id: template.startsWith('/api/points/')
        ? ids.pointId
        : template.startsWith('/api/groups/')
          ? ids.groupId
          : template.startsWith('/api/documents/')
            ? ids.documentId
            : 'w-unknown',
    };
    return template.replace(/\{(\w+)\}/g, (_m, name: string) => replace?.(name) ?? known[name]);
  }

  async function casesFromOpenApi(): Promise<Case[]> {
    const doc = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, Operation>> };
    const cases: Case[] = [];
    for (const [template, operations] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        const isJson = !!op.requestBody?.content['application/json'];
        const isPdf = !!op.requestBody?.content['application/pdf'];
        const contentType: Record<string, string> = isJson
          ? { 'content-type': 'application/json' }
          : isPdf
            ? { 'content-type': 'application/pdf' }
            : {};
        const body = isJson ? '{}' : isPdf ? pdf : undefined;
        const asOperator = { ...contentType, authorization: `Bearer ${tokens.operator}` };
        const takesQueryToken = op.security.some((s) => 'queryToken' in s);
        if (op['x-diemcau-roles'] !== 'anyone' || takesQueryToken) {
          cases.push({
            why: 'a bad token',
            method,
            path: concrete(template) + (takesQueryToken ? '?token=garbage' : ''),
            headers: { ...contentType, authorization: 'Bearer garbage' },
            body,
          });
        }
        if (isJson) cases.push({ why: 'a malformed body', method, path: concrete(template), headers: asOperator, body: '{"title": "x",' });
        if (isPdf) cases.push({ why: 'a body that is no PDF', method, path: concrete(template), headers: asOperator, body: 'MZ\x90\x00' });
        if (template.includes('{')) {
          cases.push({ why: 'an unknown id', method, path: concrete(template, () => 'khong-ton-tai'), headers: asOperator, body });
          let first = true;
          const undecodable = (name: string) => (first ? ((first = false), '%c0%ae%c0%ae') : concrete(`{${name}}`));
          cases.push({ why: 'an undecodable id', method, path: concrete(template, undecodable), headers: asOperator, body });
        }
      }
    }
    return cases;
  }

  /** /hls path tricks, the attack's own requests, and routes nobody serves. */
  const extraCases = (): Case[] => [
    { why: 'the attack: a garbage token on the recordings list', method: 'get', path: '/api/recordings?token=garbage' },
    { why: 'the attack: a bad token on a restricted playlist', method: 'get', path: '/hls/kin/live.m3u8?token=garbage' },
    { why: 'the attack: an overlong dot-dot', method: 'get', path: '/hls/truc-tiep/%c0%ae%c0%ae' },
    { why: 'an undecodable session', method: 'get', path: '/hls/%c0%ae%c0%ae/live.m3u8' },
    { why: 'an encoded slash', method: 'get', path: '/hls/truc-tiep/..%2fmeta.json' },
    { why: 'a file not served', method: 'get', path: '/hls/truc-tiep/meta.json' },
    { why: 'no file', method: 'get', path: '/hls/truc-tiep' },
    { why: 'a missing MP4 asked as a download', method: 'get', path: '/hls/truc-tiep/recording.mp4?download' },
    { why: 'a write to /hls', method: 'put', path: '/hls/truc-tiep/live.m3u8', body: 'x' },
    { why: 'an unknown API route', method: 'get', path: '/api/khong-co' },
    { why: 'a POST nobody serves', method: 'post', path: '/khong-co', body: '{}' },
    { why: 'a DELETE of the site', method: 'delete', path: '/' },
    { why: 'a PUT to metrics', method: 'put', path: '/metrics' },
    { why: 'a POST to health', method: 'post', path: '/api/health' },
    {
      why: 'a body over the limit',
      method: 'post',
      path: '/api/sessions',
      headers: json(tokens.operator),
      body: `{"title":"${'x'.repeat(300_000)}"}`,
    },
    {
      why: 'an unknown charset',
      method: 'post',
      path: '/api/sessions',
      headers: { 'content-type': 'application/json; charset=klingon', authorization: `Bearer ${tokens.operator}` },
      body: '{}',
    },
    { why: 'a bad query', method: 'get', path: '/api/sessions?from=hom-qua', headers: json(tokens.operator) },
    { why: 'a path trick on documents', method: 'get', path: `/api/documents/..%2f..%2ftoken-secret?token=${tokens.operator}` },
    { why: 'a token without a role', method: 'get', path: '/api/sessions', headers: { authorization: 'Bearer e30.e30.e30' } },
  ];

  it('is the protocol JSON error with a 4xx for a bad token, a malformed body, an unknown or undecodable id, on every route', async () => {
    const cases = [...(await casesFromOpenApi()), ...extraCases()];
    expect(cases.length).toBeGreaterThan(100);
    const problems: string[] = [];
    for (const c of cases) {
      const res = await rawRequest(server.url, { method: c.method.toUpperCase(), path: c.path, headers: c.headers, body: c.body });
      const problem = problemWith(res);
      if (problem) problems.push(`${c.method.toUpperCase()} ${c.path.slice(0, 90)} (${c.why}): ${problem}`);
    }
    expect(problems).toEqual([]);
    // And the server is still whole.
    expect((await fetch(`${server.url}/api/health`)).status).toBe(200);
  }, 120_000);
});
