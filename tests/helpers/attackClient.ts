import http from 'node:http';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface RawRequest {
  method?: string;
  /** Sent as is: percent-encodings and dot segments are not normalised (fetch would). */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** The client's own address (any 127.x.x.x on Linux): several "clients" from one process. */
  localAddress?: string;
}

/**
 * One HTTP request over its own connection, with full control of the path
 * and of headers fetch will not let a caller set (Host); gives up after 60 s
 * so that a stalled server fails the test instead of hanging it.
 */
export function rawRequest(base: string, request: RawRequest): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: request.method ?? 'GET',
        path: request.path,
        // Node sends a DELETE body neither chunked nor counted unless told its length.
        headers: {
          ...(request.body !== undefined ? { 'content-length': String(Buffer.byteLength(request.body)) } : {}),
          ...request.headers,
        },
        localAddress: request.localAddress,
        agent: false,
        timeout: 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to ${request.method ?? 'GET'} ${request.path} in 60 s`)));
    req.on('error', reject);
    req.end(request.body);
  });
}

/** The q-quantile (0..1) of a sample, nearest rank. */
export function quantile(sample: readonly number[], q: number): number {
  const sorted = [...sample].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
}
