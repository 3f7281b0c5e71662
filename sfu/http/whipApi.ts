import express from 'express';
import { DiemcauError, MovedError } from '../errors.js';
import type { IngestService } from '../ingest/IngestService.js';
import { describeError } from './errorHandler.js';

/** An SDP offer is a few kilobytes; OBS's with every codec is under 10 KiB. */
const maxOfferBytes = 64 * 1024;

/** The request's body is not an SDP offer (RFC 9725 §4.2: `Content-Type: application/sdp`). */
export class UnsupportedMediaTypeError extends DiemcauError {
  readonly status = 415;
  constructor() {
    super('bad-request', 'a WHIP offer is sent as Content-Type: application/sdp');
    this.name = 'UnsupportedMediaTypeError';
  }
}

/** A WHIP method this server does not offer (trickle ICE and ICE restarts: PATCH). */
export class MethodNotAllowedError extends DiemcauError {
  readonly status = 405;
  constructor(method: string) {
    super('bad-request', `${method} is not supported: this server is ICE-lite and takes every candidate in the offer`);
    this.name = 'MethodNotAllowedError';
  }
}

/**
 * WHIP (RFC 9725), mounted at the app's root: an encoder POSTs its SDP offer
 * to `/whip/<session>` with the session's WHIP secret as its bearer token,
 * gets the answer and a resource (`Location`), and DELETEs that resource to
 * stop. Not under /api: encoders are not console clients, and their one
 * secret is not a session token. Browser WHIP clients on other origins are
 * let in by CORS (the bearer token, not a cookie, is the credential).
 */
export function createWhipApi(deps: { ingest: IngestService }): express.Router {
  const router = express.Router();
  const cors: express.RequestHandler = (_req, res, next) => {
    res.set(corsHeaders);
    next();
  };
  const preflight: express.RequestHandler = (_req, res) => {
    res.set('Allow', allowed).status(204).end();
  };
  const offer = express.text({ type: 'application/sdp', limit: maxOfferBytes });

  router.options('/whip/:sid', cors, preflight);
  router.options('/whip/:sid/:resource', cors, preflight);

  router.post('/whip/:sid', cors, offer, async (req, res) => {
    const sid = String(req.params.sid);
    const remoteAddress = req.ip ?? req.socket.remoteAddress ?? '';
    // The token first: a stranger learns nothing of what the server makes of its offer.
    await deps.ingest.authorizeWhip(sid, bearerOf(req), remoteAddress);
    if (!req.is('application/sdp') || typeof req.body !== 'string') throw new UnsupportedMediaTypeError();
    const whip = await deps.ingest.attachWhip(sid, req.body, remoteAddress);
    res
      .status(201)
      .set({ 'Content-Type': 'application/sdp', Location: `/whip/${encodeURIComponent(sid)}/${whip.id}`, ETag: `"${whip.id}"` })
      .send(whip.answer);
  });

  router.delete('/whip/:sid/:resource', cors, async (req, res) => {
    const sid = String(req.params.sid);
    await deps.ingest.authorizeWhip(sid, bearerOf(req), req.ip ?? req.socket.remoteAddress ?? '');
    deps.ingest.detachWhip(sid, String(req.params.resource));
    res.status(200).end();
  });

  router.patch('/whip/:sid/:resource', cors, (req, res) => {
    res.set('Allow', allowed);
    throw new MethodNotAllowedError(req.method);
  });

  // A refusal keeps its CORS headers (the app's error path drops a route's headers): a browser client on another origin reads why.
  router.use(((error, req, res, next) => {
    if (!req.path.startsWith('/whip/') || res.headersSent) return next(error);
    const { status, body } = describeError(error);
    // A fault of ours goes the one error path, which logs it.
    if (body.code === 'internal' || body.code === 'media-error') return next(error);
    if (!req.complete) res.set('Connection', 'close');
    // The session's Room runs on another node (several nodes on Redis): RFC 9725 §4.6 lets the encoder follow a 307 there.
    if (error instanceof MovedError) res.set('Location', `${error.url}${req.originalUrl}`);
    res.status(status).set(corsHeaders).json({ error: body });
  }) satisfies express.ErrorRequestHandler);
  return router;
}

const allowed = 'POST, DELETE, OPTIONS';
const corsHeaders = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': allowed,
  'Access-Control-Allow-Headers': 'Authorization, Content-Type',
  'Access-Control-Expose-Headers': 'Location',
  'Cache-Control': 'no-store',
};

/** The token of `Authorization: Bearer <token>`; undefined without one. */
function bearerOf(req: express.Request): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
  return match?.[1];
}
