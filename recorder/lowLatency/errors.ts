/** Why a playlist request is refused at once: the HTTP layer answers 400 Bad Request. */
export type LowLatencyRequestErrorCode = 'bad-query' | 'part-without-msn' | 'msn-too-far' | 'part-too-far';

export class LowLatencyRequestError extends Error {
  readonly httpStatus = 400;

  constructor(
    readonly code: LowLatencyRequestErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'LowLatencyRequestError';
  }
}

/** The stream was closed (the session ended or the server stops) while a request waited or after: 404/503 for HTTP. */
export class LowLatencyClosedError extends Error {
  constructor() {
    super('the low-latency stream is closed');
    this.name = 'LowLatencyClosedError';
  }
}
