/**
 * Error codes a client can receive. Each reply error carries one of these so
 * that the UI can say what happened in the user's language.
 */
import { z } from 'zod';

export const errorCodeSchema = z.enum([
  'bad-request', // the message does not match the protocol
  'unknown-method',
  'unauthorized', // missing, invalid or expired token
  'forbidden', // the role does not allow the action
  'not-joined',
  'not-found', // transport, producer, consumer or peer does not exist
  'conflict', // e.g. the session has ended
  'moved', // the session runs on another node: go there
  'media-error', // mediasoup refused the operation
  'rate-limited', // too many requests or attempts: wait and try again
  'busy', // a limit of this server is reached (sessions, peers, streams)
  'unavailable', // a service the server needs (the shared store, another node) cannot be reached now: try again shortly
  'internal',
]);
export type ErrorCode = z.infer<typeof errorCodeSchema>;

/** The HTTP status of each error code: one table for every route. */
export const httpStatusOf: Record<ErrorCode, number> = {
  'bad-request': 400,
  'unknown-method': 404,
  unauthorized: 401,
  forbidden: 403,
  'not-joined': 409,
  'not-found': 404,
  conflict: 409,
  moved: 307,
  'media-error': 500,
  'rate-limited': 429,
  busy: 503,
  unavailable: 503,
  internal: 500,
};

export const errorBodySchema = z.object({
  code: errorCodeSchema,
  message: z.string(),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** WebSocket close codes used by the server (4000-4999 are application codes). */
export const closeCodes = {
  unauthorized: 4401,
  replaced: 4409, // the same identity joined from another tab or device
  removed: 4403, // the operator removed this peer
  sessionEnded: 4410,
  /** The session runs on another node; the reason is that node's URL. */
  moved: 4307,
  /** The connection sent faster than allowed, or stopped reading its replies. */
  flooding: 4429,
  /** This server is full (peers or streams): try again later. */
  busy: 4503,
} as const;
