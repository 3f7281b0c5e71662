import type { WebSocket } from 'ws';

/** How long a client has to answer our close before its socket is cut. */
const closeGraceMs = 5000;

/** A close reason is at most 123 bytes of UTF-8 (RFC 6455); a longer one makes `ws` throw. */
const maxReasonBytes = 123;

/**
 * Closes a socket with a code and a reason the page can show. A client that
 * does not answer the close (a flood, a client that never reads) is cut
 * after a few seconds instead of the 30 s `ws` would wait. `stopReading`
 * stops reading it at once: what a client that does not read sends is not
 * worth the CPU.
 */
export function closeSocket(ws: WebSocket, code: number, reason: string, options: { stopReading?: boolean } = {}): void {
  if (ws.readyState !== ws.OPEN) return;
  ws.close(code, truncate(reason));
  if (options.stopReading) ws.pause();
  const cut = setTimeout(() => ws.terminate(), closeGraceMs);
  cut.unref();
  ws.once('close', () => clearTimeout(cut));
}

function truncate(reason: string): string {
  let bytes = Buffer.from(reason, 'utf8');
  if (bytes.length <= maxReasonBytes) return reason;
  bytes = bytes.subarray(0, maxReasonBytes);
  // Drop a character cut in the middle.
  return bytes.toString('utf8').replace(/\uFFFD$/, '');
}
