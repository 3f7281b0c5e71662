import { isIPv4 } from 'node:net';
import type { Request, RequestHandler } from 'express';
import { NotFoundError } from '../errors.js';

const isLoopbackAddress = (address: string) => {
  const v4 = address.replace(/^::ffff:/i, '');
  return address === '::1' || (isIPv4(v4) && v4.startsWith('127.'));
};

/** localhost, 127.x.x.x or [::1], with any port. */
const loopbackHost = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/i;

/** Headers a reverse proxy adds: a request that crossed one came from elsewhere, whatever its socket says. */
const proxyHeaders = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip', 'via'];

/**
 * A request from this machine itself: the socket is loopback (the socket,
 * never a header a client writes), it did not come through a reverse proxy
 * on this machine, and it names a loopback host (a page of another site whose
 * name was pointed at 127.0.0.1 — DNS rebinding — names its own host).
 *
 * Through a proxy means: it carries a proxy's header, or its socket is one
 * the deployment named as its proxy (DIEMCAU_TRUST_PROXY) — nginx adds no
 * X-Forwarded-For unless told to, and names the upstream (127.0.0.1:3000) as
 * the host by default. What a trusted proxy says of the client (its
 * X-Forwarded-For, req.ip) is never enough: a request from the internet must
 * not count as this machine whatever a proxy was made to write.
 */
export function fromThisMachine(req: Request): boolean {
  const socketAddress = req.socket.remoteAddress ?? '';
  const isTrustedProxy = req.app.get('trust proxy fn') as ((address: string, hop: number) => boolean) | undefined;
  return (
    isLoopbackAddress(socketAddress) &&
    !isTrustedProxy?.(socketAddress, 0) &&
    !proxyHeaders.some((h) => req.get(h) !== undefined) &&
    loopbackHost.test(req.get('host') ?? '')
  );
}

/**
 * GET /api-demo: the demo session's links, among them an operator token, so
 * only for a browser on this machine (what `npm start` prints). Elsewhere it
 * answers as if the demo were off, which is what the home page shows.
 */
export function demoRoute(links: () => object | undefined): RequestHandler {
  return (req, res) => {
    const demo = links();
    if (!demo) throw new NotFoundError('demo is off');
    if (!fromThisMachine(req)) throw new NotFoundError('the demo links are served on this machine only (http://localhost)');
    res.set('Cache-Control', 'no-store').json(demo);
  };
}
