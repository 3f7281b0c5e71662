/**
 * Behind the province's reverse proxy (nginx on the same machine, at
 * 127.0.0.1), every request reaches the server from one address. Played from
 * outside with raw HTTP from several local addresses: without a trusted proxy
 * an X-Forwarded-For a client writes changes nothing; with the proxy trusted,
 * each client it names has its own sign-in limit — and only what the proxy
 * itself adds counts, a client that bypasses it is keyed by its socket; and a
 * request that came through the proxy never gets the demo's operator link,
 * whatever it or the proxy says.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from '../helpers/attackClient.js';
import { startServer } from '../helpers/server.js';

type TestServer = Awaited<ReturnType<typeof startServer>>;

let direct: TestServer;
let proxied: TestServer;
/** Where nginx connects from. */
const proxyAddress = '127.0.0.1';
/** A browser on this machine talking to the server directly, not through nginx. */
const besideTheProxy = '127.0.0.2';
const perMinute = 3;

/** A sign-in with a wrong password; the status it gets. */
async function wrongSignIn(server: TestServer, from: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await rawRequest(server.url, {
    method: 'POST',
    path: '/api/auth/sign-in',
    localAddress: from,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ username: 'admin', password: 'khong-phai-mat-khau' }),
  });
  return res.status;
}

/** Statuses of `count` wrong sign-ins in a row. */
async function wrongSignIns(server: TestServer, count: number, from: string, headers: (i: number) => Record<string, string>) {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) statuses.push(await wrongSignIn(server, from, headers(i)));
  return statuses;
}

/** The demo links as a request with these headers, from this address, gets them. */
async function demo(server: TestServer, from: string, headers: Record<string, string>) {
  const res = await rawRequest(server.url, { path: '/api-demo', localAddress: from, headers });
  return { status: res.status, leaksToken: /token=/.test(res.body) };
}

const localhost = (server: TestServer) => `localhost:${new URL(server.url).port}`;

beforeAll(async () => {
  const common = { workers: 1, maxSignInPerMinute: perMinute, demo: true };
  [direct, proxied] = await Promise.all([startServer(common), startServer({ ...common, trustProxy: [proxyAddress] })]);
});

afterAll(async () => {
  await Promise.all([direct?.stop(), proxied?.stop()]);
});

describe('sign-in limits without a trusted proxy (the default)', () => {
  it('keys on the socket: a different forged X-Forwarded-For on every attempt does not escape the limit', async () => {
    const statuses = await wrongSignIns(direct, perMinute + 2, proxyAddress, (i) => ({ 'x-forwarded-for': `198.51.100.${i + 1}` }));
    expect(statuses).toEqual([...Array<number>(perMinute).fill(401), 429, 429]);
    // Another socket address is another client.
    expect(await wrongSignIn(direct, besideTheProxy)).toBe(401);
  });
});

describe('sign-in limits behind a trusted proxy', () => {
  it('gives each client the proxy names its own limit', async () => {
    const client = (address: string) => () => ({ 'x-forwarded-for': address });
    expect(await wrongSignIns(proxied, perMinute + 1, proxyAddress, client('203.0.113.7'))).toEqual([
      ...Array<number>(perMinute).fill(401),
      429,
    ]);
    // Someone else behind the same proxy is not locked out by the attacker.
    expect(await wrongSignIns(proxied, perMinute, proxyAddress, client('198.51.100.9'))).toEqual(Array<number>(perMinute).fill(401));
    // The attacker writes its own X-Forwarded-For; nginx appends the address it really came from, which is what counts.
    expect(await wrongSignIn(proxied, proxyAddress, { 'x-forwarded-for': '198.51.100.77, 203.0.113.7' })).toBe(429);
  });

  it('does not believe X-Forwarded-For from a client that bypasses the proxy', async () => {
    const statuses = await wrongSignIns(proxied, perMinute + 1, besideTheProxy, (i) => ({ 'x-forwarded-for': `192.0.2.${i + 1}` }));
    expect(statuses).toEqual([...Array<number>(perMinute).fill(401), 429]);
  });
});

describe('the demo behind a trusted proxy', () => {
  it('is closed to every request that came through the proxy, whatever it or the proxy says', async () => {
    for (const [why, headers] of [
      // nginx's defaults: no X-Forwarded-For, and the upstream as the host.
      ['from the internet through nginx as configured by default', { host: `127.0.0.1:${new URL(proxied.url).port}` }],
      ['from the internet, its address forwarded', { host: localhost(proxied), 'x-forwarded-for': '203.0.113.7' }],
      ['from a client that wrote X-Forwarded-For: 127.0.0.1', { host: localhost(proxied), 'x-forwarded-for': '127.0.0.1' }],
    ] as const) {
      expect(await demo(proxied, proxyAddress, headers), why).toEqual({ status: 404, leaksToken: false });
    }
  });

  it('still opens to a browser on this machine that talks to the server directly', async () => {
    expect(await demo(proxied, besideTheProxy, { host: localhost(proxied) })).toEqual({ status: 200, leaksToken: true });
    // And, without a trusted proxy, a request that says it was forwarded is refused as before.
    expect(await demo(direct, proxyAddress, { host: localhost(direct), 'x-forwarded-for': '203.0.113.7' })).toEqual({
      status: 404,
      leaksToken: false,
    });
  });
});
