/**
 * Webhooks against a real receiver on loopback: events of a live session
 * (fed by ffmpeg, recorded to HLS) arrive signed; a failed attempt is retried
 * and every attempt is logged; a receiver that hangs or is gone never holds
 * up the server.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Webhook, WebhookDelivery } from '../../protocol/index.js';
import { signPayload, verifySignature, WebhookDispatcher, type WebhookAttempt } from '../../sfu/webhooks/WebhookDispatcher.js';
import { joinPlain, type PlainParticipant } from '../helpers/plainPeer.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer } from '../helpers/server.js';

interface Received {
  at: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An HTTP receiver that answers 500 to its first `failFirst` requests, then 204. */
async function receiver(options: { failFirst?: number; hang?: boolean } = {}) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ at: Date.now(), headers: req.headers, body });
      if (options.hang) return; // never answers
      res.statusCode = received.length <= (options.failFirst ?? 0) ? 500 : 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks`;
  return {
    url,
    received,
    events: () => received.map((r) => JSON.parse(r.body) as WebhookDelivery),
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

let server: Awaited<ReturnType<typeof startServer>>;
let operatorToken: string;
let hooks: Awaited<ReturnType<typeof receiver>>;
const secret = 'mot-bi-mat-du-dai-0123456789';
const cleanups: (() => unknown)[] = [];

const api = (method: string, path: string, body?: unknown) =>
  fetch(`${server.url}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

beforeAll(async () => {
  server = await startServer({ workers: 1, autoRecord: true });
  operatorToken = await server.tokens.sign({ sid: '*', sub: 'chanh-vp', role: 'operator', name: 'Chánh văn phòng' });
  hooks = await receiver({ failFirst: 1 });
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await server?.stop();
  await hooks?.close();
});

describe('webhook subscriptions', () => {
  it('are created, listed without their secret, validated and deleted by an operator', async () => {
    for (const bad of [
      { url: 'ftp://example.test/x', secret, events: ['point.joined'] },
      { url: hooks.url, secret: 'short', events: ['point.joined'] },
      { url: hooks.url, secret, events: [] },
      { url: hooks.url, secret, events: ['point.exploded'] },
    ]) {
      expect((await api('POST', '/webhooks', bad)).status).toBe(400);
    }
    const spare = await api('POST', '/webhooks', { url: `${hooks.url}/spare`, secret, events: ['session.ended'] });
    expect(spare.status).toBe(201);
    const { id } = (await spare.json()) as Webhook;
    const created = await api('POST', '/webhooks', {
      url: hooks.url,
      secret,
      events: ['session.started', 'session.ended', 'point.joined', 'point.left', 'recording.ready'],
    });
    expect(created.status).toBe(201);
    const listed = (await (await api('GET', '/webhooks')).json()) as { webhooks: (Webhook & { secret?: string })[] };
    expect(listed.webhooks).toHaveLength(2);
    expect(listed.webhooks.every((w) => w.secret === undefined && w.createdBy === 'chanh-vp')).toBe(true);
    expect((await api('DELETE', `/webhooks/${id}`)).status).toBe(204);
    expect((await api('DELETE', `/webhooks/${id}`)).status).toBe(404);
    expect(((await (await api('GET', '/webhooks')).json()) as { webhooks: Webhook[] }).webhooks).toHaveLength(1);
    const audit = (await (await api('GET', '/audit')).json()) as { entries: { action: string; actor: string }[] };
    expect(audit.entries.filter((e) => e.action.startsWith('webhook.')).map((e) => [e.action, e.actor])).toEqual([
      ['webhook.create', 'chanh-vp'],
      ['webhook.create', 'chanh-vp'],
      ['webhook.delete', 'chanh-vp'],
    ]);
  });
});

describe('deliveries', () => {
  let studio: PlainParticipant;
  let point: PlainParticipant;

  it('sends point.joined signed, retrying after a 500, and logs each attempt', async () => {
    await server.sessions.create({ id: 'wh', title: 'Giao ban' });
    const room = await server.sessions.room('wh');
    studio = await joinPlain(room, { identity: 'studio', role: 'studio', send: { pattern: 'testsrc' } });
    point = await joinPlain(room, { identity: 'xa-a', role: 'point', send: { pattern: 'smptebars' } });
    cleanups.push(
      () => studio.stop(),
      () => point.stop(),
    );

    await waitFor('a retried delivery', () => hooks.received.length >= 2, 10_000);
    const [first, second] = hooks.received;
    const a = JSON.parse(first.body) as WebhookDelivery;
    const b = JSON.parse(second.body) as WebhookDelivery;
    // The same event, sent again about 1 s later.
    expect(b).toEqual(a);
    expect(a).toMatchObject({ type: 'point.joined', data: { sessionId: 'wh', identity: 'xa-a', name: 'xa-a' } });
    expect(second.at - first.at).toBeGreaterThanOrEqual(900);
    expect(second.headers['content-type']).toBe('application/json');
    expect(second.headers['diemcau-event']).toBe('point.joined');
    expect(second.headers['diemcau-delivery']).toBe(a.id);
    // The signature covers the body as sent.
    const signature = second.headers['diemcau-signature'] as string;
    expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifySignature(secret, signature, second.body)).toBe(true);
    expect(verifySignature(secret, signature, second.body.replace('xa-a', 'xa-b'))).toBe(false);
    expect(verifySignature('another-secret-0123456789', signature, second.body)).toBe(false);
    expect(verifySignature(secret, signature, second.body, { now: Date.now() + 3600_000 })).toBe(false);

    // The second attempt is logged once its answer is in, which may be after the receiver saw it.
    const attemptsOf = async (id: string) =>
      (await server.store.readLog<WebhookAttempt>('webhook-deliveries')).filter((e) => e.eventId === id);
    await waitFor('the second attempt logged', async () => (await attemptsOf(a.id)).length >= 2);
    const attempts = await attemptsOf(a.id);
    expect(attempts).toMatchObject([
      { attempt: 1, ok: false, status: 500, error: 'HTTP 500', retryInMs: 1000, type: 'point.joined', url: hooks.url },
      { attempt: 2, ok: true, status: 204 },
    ]);
  });

  it('announces the session on air, the point leaving, the end and the archive once ready', async () => {
    const room = await server.sessions.room('wh');
    room.goLive('chanh-vp');
    await waitFor('session.started', () => hooks.events().some((e) => e.type === 'session.started'));
    await waitFor('something recorded', () => (server.recordings.recorder('wh')?.journal.duration ?? 0) > 0, 20_000);
    room.leave(point.peer);
    await waitFor('point.left', () => hooks.events().some((e) => e.type === 'point.left'));
    void room.end('chanh-vp');
    await waitFor('session.ended', () => hooks.events().some((e) => e.type === 'session.ended'));
    await waitFor('recording.ready', () => hooks.events().some((e) => e.type === 'recording.ready'), 30_000);
    const ready = hooks.events().find((e) => e.type === 'recording.ready')!;
    expect(ready.data).toMatchObject({ sessionId: 'wh', title: 'Giao ban', playlist: '/hls/wh/archive.m3u8' });
    expect(ready.data.durationSeconds).toBeGreaterThan(0);
    expect(server.recordings.meta('wh')?.status).toBe('complete');
    const types = hooks.events().map((e) => e.type);
    // Each event once (the first point.joined attempt failed and was sent again).
    expect(types.filter((t) => t !== 'point.joined').sort()).toEqual(['point.left', 'recording.ready', 'session.ended', 'session.started']);
    for (const r of hooks.received) expect(verifySignature(secret, r.headers['diemcau-signature'] as string, r.body)).toBe(true);

    // The audit log has the same story: the operator who acted, the automatic recording under 'system'.
    const audit = (await (await api('GET', '/audit?sessionId=wh')).json()) as {
      entries: { action: string; actor: string; target?: string }[];
    };
    expect(audit.entries.map((e) => [e.action, e.actor, e.target])).toEqual([
      ['peer.join', 'studio', 'studio'],
      ['peer.join', 'xa-a', 'xa-a'],
      ['session.start', 'chanh-vp', 'wh'],
      ['recording.start', 'system', 'wh'],
      ['peer.leave', 'xa-a', 'xa-a'],
      ['session.end', 'chanh-vp', 'wh'],
      ['recording.stop', 'system', 'wh'],
      ['peer.leave', 'studio', 'studio'],
    ]);
    expect(audit.entries.at(-1)).toMatchObject({ details: { role: 'studio', reason: 'session ended' } });
  });
});

describe('a receiver that fails', () => {
  it('is given up after the last retry, each attempt logged, without holding anything up', async () => {
    const hanging = await receiver({ hang: true });
    cleanups.push(() => hanging.close());
    const dispatcher = new WebhookDispatcher({ store: server.store, logger: server.logger, retryDelays: [50, 100], timeoutMs: 300 });
    const gone = await dispatcher.create({ url: 'http://127.0.0.1:9/nobody-listens', secret, events: ['session.started'] });
    const slow = await dispatcher.create({ url: hanging.url, secret, events: ['session.started'] });
    // Nothing is held up: emit returns (nothing to await) before any delivery is even attempted.
    expect(dispatcher.emit('session.started', { sessionId: 'x' })).toBeUndefined();
    expect(hanging.received).toHaveLength(0);
    // Every attempt is logged, the last one at each receiver saying that no retry follows.
    const attempts = async () =>
      (await server.store.readLog<WebhookAttempt>('webhook-deliveries')).filter((e) => e.webhookId === gone.id || e.webhookId === slow.id);
    await waitFor('three attempts at each receiver', async () => (await attempts()).length >= 6);
    const log = await attempts();
    const of = (id: string) => log.filter((e) => e.webhookId === id);
    expect(of(gone.id).map((e) => [e.attempt, e.ok, e.retryInMs])).toEqual([
      [1, false, 50],
      [2, false, 100],
      [3, false, undefined],
    ]);
    expect(of(gone.id)[0].error).toMatch(/fetch failed|ECONNREFUSED/);
    expect(of(slow.id)).toHaveLength(3);
    // The receiver never answers: each attempt ended by the dispatcher's own timeout, never early.
    // How late after 300 ms depends on the machine: a figure.
    for (const attempt of of(slow.id)) {
      expect(attempt.error).toBe('no answer within 300 ms');
      expect(attempt.durationMs).toBeGreaterThanOrEqual(290);
    }
    console.log(
      `attempts at a receiver that never answers took ${of(slow.id)
        .map((a) => a.durationMs)
        .join(', ')} ms (timeout 300 ms)`,
    );
    expect(hanging.received).toHaveLength(3);
    await dispatcher.delete(gone.id);
    await dispatcher.delete(slow.id);
    await dispatcher.close();
  });

  it('signs as documented: HMAC-SHA256 of "<t>.<body>"', () => {
    const header = signPayload('k'.repeat(16), '{"a":1}', 1_790_000_000);
    const mac = createHmac('sha256', 'k'.repeat(16)).update('1790000000.{"a":1}').digest('hex');
    expect(header).toBe(`t=1790000000,v1=${mac}`);
    expect(verifySignature('k'.repeat(16), header, '{"a":1}', { now: 1_790_000_000_000 })).toBe(true);
    expect(verifySignature('k'.repeat(16), header, '{"a":1}', { now: 1_790_000_400_000 })).toBe(false);
    expect(verifySignature('k'.repeat(16), 'garbage', '{"a":1}')).toBe(false);
    expect(verifySignature('k'.repeat(16), undefined, '{"a":1}')).toBe(false);
  });
});
