import { expect } from 'vitest';
import type { ReplyMessage, Role } from '../../protocol/index.js';
import type { Server } from '../../sfu/Server.js';
import { tokenFor } from './server.js';
import { RawSignaling } from './wsClient.js';

/**
 * A raw signaling socket of a session as `sub` in `role`, open. A registered
 * point's token carries its invitation version, as its link does. Each socket
 * is added to `sockets` for the test to close.
 */
export async function signalingAs(
  server: Server & { url: string },
  sid: string,
  sub: string,
  role: Role,
  sockets: RawSignaling[],
): Promise<RawSignaling> {
  const ver = role === 'point' ? server.points.listPoints().find((p) => p.id === sub)?.invitationVersion : undefined;
  const token = ver === undefined ? await tokenFor(server, sid, sub, role) : await server.tokens.sign({ sid, sub, role, name: sub, ver });
  const ws = new RawSignaling(`${server.url.replace('http', 'ws')}/ws?token=${token}`);
  sockets.push(ws);
  await ws.opened();
  return ws;
}

/** The data of a reply that must have succeeded (the error is in the failure message otherwise). */
export function replyData<T>(reply: ReplyMessage): T {
  expect(reply.ok, JSON.stringify(reply)).toBe(true);
  return (reply as { data: T }).data;
}

/** The error code of a refused reply; undefined when it succeeded. */
export function errorCode(reply: ReplyMessage): string | undefined {
  return reply.ok ? undefined : reply.error.code;
}
