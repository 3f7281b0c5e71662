import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { webhookInputSchema, type Webhook, type WebhookDelivery, type WebhookEventType, type WebhookInput } from '../../protocol/index.js';
import type { RecordingService } from '../../recorder/RecordingService.js';
import { NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SessionRegistry } from '../room/SessionRegistry.js';
import type { Store } from '../store/Store.js';

/** A subscription as stored (collection 'webhooks'). */
export interface WebhookSubscription extends Webhook {
  secret: string;
}

/** One attempt to deliver one event to one subscriber (log 'webhook-deliveries'). */
export interface WebhookAttempt {
  at: number;
  /** The event's id, the same for every attempt. */
  eventId: string;
  type: WebhookEventType;
  webhookId: string;
  url: string;
  attempt: number;
  ok: boolean;
  status?: number;
  error?: string;
  durationMs: number;
  /** When the next attempt comes, if one does. */
  retryInMs?: number;
}

export interface WebhookDispatcherOptions {
  store: Store;
  logger: Logger;
  /** Waits between attempts; one attempt more than there are delays. */
  retryDelays?: number[];
  /** A subscriber that does not answer within this is a failed attempt. */
  timeoutMs?: number;
}

export const signatureHeader = 'Diemcau-Signature';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` */
export function signPayload(secret: string, body: string, unixSeconds = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * For receivers: true when `header` signs `body` with `secret` and is no
 * older than `toleranceSeconds` (replays of an old delivery are refused).
 * `body` must be the raw text received, not re-serialized JSON.
 */
export function verifySignature(
  secret: string,
  header: string | null | undefined,
  body: string,
  options: { toleranceSeconds?: number; now?: number } = {},
): boolean {
  if (!header) return false;
  const fields = new Map<string, string[]>();
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    fields.set(key, [...(fields.get(key) ?? []), part.slice(eq + 1).trim()]);
  }
  const t = Number(fields.get('t')?.[0]);
  if (!Number.isInteger(t)) return false;
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(now - t) > (options.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  return (fields.get('v1') ?? []).some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/**
 * Tells other systems what happens: sessions on and off air, points coming
 * and going, recordings ready. Each event is POSTed as signed JSON to every
 * subscriber of its type, retried with growing waits; every attempt is
 * logged. Nothing here can hold up or crash the server: deliveries run on
 * their own and every failure ends in the log.
 */
export class WebhookDispatcher {
  readonly #o: Required<WebhookDispatcherOptions>;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #waits = new Set<() => void>();
  readonly #aborts = new Set<AbortController>();
  #closed = false;

  constructor(options: WebhookDispatcherOptions) {
    this.#o = { retryDelays: [1000, 2000, 4000, 8000, 16000], timeoutMs: 5000, ...options };
  }

  // ---- Subscriptions ---------------------------------------------------------------

  async list(): Promise<Webhook[]> {
    const all = await this.#o.store.list<WebhookSubscription>('webhooks');
    return all.sort((a, b) => a.createdAt - b.createdAt).map(withoutSecret);
  }

  async create(input: WebhookInput, createdBy?: string): Promise<Webhook> {
    const parsed = webhookInputSchema.parse(input);
    const subscription: WebhookSubscription = {
      id: randomUUID(),
      url: parsed.url,
      secret: parsed.secret,
      events: [...new Set(parsed.events)],
      createdAt: Date.now(),
      createdBy,
    };
    await this.#o.store.put('webhooks', subscription.id, subscription);
    return withoutSecret(subscription);
  }

  async delete(id: string): Promise<void> {
    if (!(await this.#o.store.delete('webhooks', id))) throw new NotFoundError(`no webhook ${id}`);
  }

  // ---- Events ----------------------------------------------------------------------

  /** Sends session, point and recording events from this node's rooms and recorder. */
  attach(sessions: SessionRegistry, recordings?: RecordingService): void {
    sessions.on('room', (room, record) => {
      // A session restored on air after a restart was already announced.
      let status: string = record.status === 'live' ? 'live' : 'waiting';
      room.on('snapshot', (snapshot) => {
        if (snapshot.status === status) return;
        status = snapshot.status;
        const data = { sessionId: room.id, title: room.title };
        if (status === 'live') this.emit('session.started', data);
        if (status === 'ended') this.emit('session.ended', data);
      });
      const points = new Map<string, string>();
      room.on('presence', (identity, present) => {
        if (present) {
          const peer = room.peer(identity);
          if (peer?.role !== 'point') return;
          // A reload replaces the peer: announce the point once.
          if (points.has(identity)) return;
          points.set(identity, peer.name);
          this.emit('point.joined', { sessionId: room.id, identity, name: peer.name });
        } else {
          const name = points.get(identity);
          if (name === undefined) return;
          // Presence false then true in the same tick is a replacement, not a departure.
          setImmediate(() => {
            if (room.peer(identity) || !points.has(identity)) return;
            points.delete(identity);
            this.emit('point.left', { sessionId: room.id, identity, name });
          });
        }
      });
      // Ending the session sends everyone away without a presence event each.
      room.once('close', () => {
        for (const [identity, name] of points) this.emit('point.left', { sessionId: room.id, identity, name });
        points.clear();
      });
    });
    recordings?.on('ready', (sessionId, meta) => {
      this.emit('recording.ready', {
        sessionId,
        title: meta.title,
        durationSeconds: meta.duration,
        playlist: `/hls/${sessionId}/archive.m3u8`,
        ...(meta.hasMp4 ? { mp4: `/hls/${sessionId}/recording.mp4` } : {}),
      });
    });
  }

  /** Queues an event for every subscriber of its type; never throws, never waits for delivery. */
  emit(type: WebhookEventType, data: Record<string, unknown>): void {
    if (this.#closed) return;
    const event: WebhookDelivery = { id: randomUUID(), type, at: Date.now(), data };
    this.#track(
      (async () => {
        const subscriptions = await this.#o.store.list<WebhookSubscription>('webhooks');
        for (const subscription of subscriptions) {
          if (subscription.events.includes(type)) this.#track(this.#deliver(subscription, event));
        }
      })().catch((error) => this.#o.logger.error({ err: error, type }, 'could not dispatch a webhook event')),
    );
  }

  /** Abandons pending retries and requests (server shutdown). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const done of [...this.#waits]) done();
    for (const abort of this.#aborts) abort.abort();
    await Promise.allSettled([...this.#inFlight]);
  }

  #track(promise: Promise<void>): void {
    this.#inFlight.add(promise);
    void promise.finally(() => this.#inFlight.delete(promise));
  }

  async #deliver(subscription: WebhookSubscription, event: WebhookDelivery): Promise<void> {
    const body = JSON.stringify(event);
    const delays = this.#o.retryDelays;
    for (let attempt = 1; attempt <= delays.length + 1 && !this.#closed; attempt++) {
      const started = Date.now();
      let status: number | undefined;
      let error: string | undefined;
      const abort = new AbortController();
      const timeout = setTimeout(() => abort.abort(new Error(`no answer within ${this.#o.timeoutMs} ms`)), this.#o.timeoutMs);
      this.#aborts.add(abort);
      try {
        const res = await fetch(subscription.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'Diemcau-Webhooks/1',
            [signatureHeader]: signPayload(subscription.secret, body),
            'Diemcau-Event': event.type,
            'Diemcau-Delivery': event.id,
          },
          body,
          redirect: 'manual',
          signal: abort.signal,
        });
        status = res.status;
        // The answer's body is not needed; reading it frees the connection.
        await res.arrayBuffer().catch(() => undefined);
        if (status < 200 || status >= 300) error = `HTTP ${status}`;
      } catch (e) {
        const reason: unknown = abort.signal.aborted ? abort.signal.reason : e;
        error =
          reason instanceof Error
            ? reason.cause instanceof Error
              ? `${reason.message}: ${reason.cause.message}`
              : reason.message
            : String(reason);
      } finally {
        clearTimeout(timeout);
        this.#aborts.delete(abort);
      }
      const ok = error === undefined;
      const retryInMs = !ok && attempt <= delays.length && !this.#closed ? delays[attempt - 1] : undefined;
      const entry: WebhookAttempt = {
        at: started,
        eventId: event.id,
        type: event.type,
        webhookId: subscription.id,
        url: subscription.url,
        attempt,
        ok,
        ...(status !== undefined ? { status } : {}),
        ...(error !== undefined ? { error } : {}),
        durationMs: Date.now() - started,
        ...(retryInMs !== undefined ? { retryInMs } : {}),
      };
      await this.#o.store
        .append<WebhookAttempt>('webhook-deliveries', entry)
        .catch((e) => this.#o.logger.error({ err: e }, 'could not log a webhook delivery'));
      if (ok) return;
      if (retryInMs === undefined) {
        this.#o.logger.warn({ webhook: subscription.id, url: subscription.url, type: event.type, error }, 'webhook delivery abandoned');
        return;
      }
      await this.#wait(retryInMs);
    }
  }

  /** A pause between attempts that close() cuts short. */
  #wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waits.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.#waits.add(done);
    });
  }
}

function withoutSecret({ secret: _secret, ...webhook }: WebhookSubscription): Webhook {
  return webhook;
}
