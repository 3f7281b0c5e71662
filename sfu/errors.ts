import type { ErrorBody, ErrorCode } from '../protocol/index.js';

/** An error whose code and message are meant for the client that caused it. */
export class DiemcauError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DiemcauError';
  }
}

export class ForbiddenError extends DiemcauError {
  constructor(message: string) {
    super('forbidden', message);
    this.name = 'ForbiddenError';
  }
}

export class NotFoundError extends DiemcauError {
  constructor(message: string) {
    super('not-found', message);
    this.name = 'NotFoundError';
  }
}

export class UnauthorizedError extends DiemcauError {
  constructor(message: string) {
    super('unauthorized', message);
    this.name = 'UnauthorizedError';
  }
}

/** The session's Room runs on another node (several nodes sharing Redis). */
export class MovedError extends DiemcauError {
  constructor(
    readonly node: string,
    readonly url: string,
  ) {
    super('moved', `the session runs on node ${node}`);
    this.name = 'MovedError';
  }
}

/** Too many requests or attempts from one peer or address. */
export class RateLimitedError extends DiemcauError {
  constructor(
    message: string,
    /** When the caller may try again, in seconds. */
    readonly retryAfterSeconds = 1,
  ) {
    super('rate-limited', message);
    this.name = 'RateLimitedError';
  }
}

/** A configured limit of this server is reached. */
export class BusyError extends DiemcauError {
  constructor(message: string) {
    super('busy', message);
    this.name = 'BusyError';
  }
}

/** Every media worker that could carry a participant or a stream carries `maxStreamsPerWorker` already. */
export class WorkerBusyError extends BusyError {
  constructor(message = 'the media server carries as many streams as it can: try again later') {
    super(message);
    this.name = 'WorkerBusyError';
  }
}

export class ConflictError extends DiemcauError {
  constructor(message: string) {
    super('conflict', message);
    this.name = 'ConflictError';
  }
}

/**
 * mediasoup refused what a browser asked for (its DTLS or RTP parameters, a
 * layer, a transport in the wrong state): the browser's news, with
 * mediasoup's reason.
 */
export class MediaError extends DiemcauError {
  constructor(cause: unknown) {
    super('media-error', String(cause instanceof Error ? cause.message : cause).slice(0, 500));
    this.name = 'MediaError';
  }
}

/**
 * What a client is told of an error, over signaling and HTTP alike: a
 * refusal's own code and message; of anything else (a fault of ours) nothing
 * but `internal` — the log has it.
 */
export function errorBodyOf(error: unknown): ErrorBody {
  if (error instanceof DiemcauError) return { code: error.code, message: error.message };
  return { code: 'internal', message: 'internal error' };
}
