import type { ErrorRequestHandler, RequestHandler } from 'express';
import { httpStatusOf, type ErrorBody, type ErrorCode } from '../../protocol/index.js';
import { DiemcauError, errorBodyOf, NotFoundError, RateLimitedError } from '../errors.js';
import type { Logger } from '../logger.js';

/** Codes for the 4xx errors express and body-parser raise themselves (bad JSON, too large, an undecodable path). */
const codeOfStatus: Partial<Record<number, ErrorCode>> = { 401: 'unauthorized', 403: 'forbidden', 404: 'not-found', 429: 'rate-limited' };

/** A 4xx status the error carries (body-parser's, express's, an upload refusal's 413/415). */
function clientStatus(error: unknown): number | undefined {
  const e = error as { status?: unknown; statusCode?: unknown } | null | undefined;
  const raw = e?.status ?? e?.statusCode;
  return typeof raw === 'number' && raw >= 400 && raw < 500 ? raw : undefined;
}

/**
 * What the client is told: a protocol code, its message and the HTTP status.
 * A refusal's message describes the client's own request; anything else is
 * `internal` with no detail (the log has it).
 */
export function describeError(error: unknown): { status: number; body: ErrorBody } {
  const status = clientStatus(error);
  if (error instanceof DiemcauError) return { status: status ?? httpStatusOf[error.code], body: errorBodyOf(error) };
  if (status !== undefined) {
    const message = error instanceof Error ? error.message.slice(0, 200) : 'bad request';
    return { status, body: { code: codeOfStatus[status] ?? 'bad-request', message } };
  }
  const body = errorBodyOf(error);
  return { status: httpStatusOf[body.code], body };
}

/**
 * The one error path of every HTTP route (/api, /hls, the web app, anything
 * else): `{ error: { code, message } }` as JSON with the status of its code;
 * never express's HTML page, never a stack.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const { status, body } = describeError(error);
    // A viewer who closed the player mid-file (a segment, the MP4) is not a fault: nothing to fix, nobody to answer.
    if (clientWentAway(error)) {
      logger.debug({ method: req.method, path: req.path }, 'client went away during the reply');
      return void req.socket.destroy();
    }
    // A refusal (busy included) is the client's news; a fault is ours to fix, with its stack, in the log only.
    if (body.code === 'internal' || body.code === 'media-error')
      logger.error({ err: error, method: req.method, path: req.path }, 'HTTP request failed');
    // Half a response is out (a file cut short): closing is the only way to tell the client it is not whole.
    if (res.headersSent) return void req.socket.destroy();
    // Headers the route set for what it meant to send (a playlist's type, an attachment) do not describe the error.
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    if (error instanceof RateLimitedError) res.set('Retry-After', String(error.retryAfterSeconds));
    res.set('Cache-Control', 'no-store');
    // A body left unread (a refused upload): do not keep the connection for the rest of it.
    if (!req.complete) res.set('Connection', 'close');
    res.status(status).json({ error: body });
  };
}

/** express's `sendFile` reports a connection the client closed as an error ('Request aborted', ECONNABORTED / ECONNRESET). */
function clientWentAway(error: unknown): boolean {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return code === 'ECONNABORTED' || code === 'ECONNRESET' || code === 'EPIPE';
}

/** Mounted last: a request no route answered. */
export const notFound: RequestHandler = () => {
  throw new NotFoundError('no such route');
};
