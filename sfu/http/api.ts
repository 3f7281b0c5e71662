import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { can, identitySchema, roleSchema, sessionInputSchema, type Action, type TokenClaims } from '../../protocol/index.js';
import type { TokenService } from '../auth/TokenService.js';
import { DiemcauError } from '../errors.js';
import { authorize as authorizeWith, parseBody } from './authorize.js';
import type { SessionRegistry } from '../room/SessionRegistry.js';
import { toErrorBody } from '../signaling/Connection.js';

export interface ApiDeps {
  tokens: TokenService;
  sessions: SessionRegistry;
  publicUrl: string;
  /** More route groups, each at its own path under /api (points, documents, …). */
  mounts?: Record<string, express.Router>;
}

const httpStatus: Record<string, number> = {
  'bad-request': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'unknown-method': 404,
  'not-joined': 409,
  'media-error': 500,
  internal: 500,
};

const invitationBody = z.object({
  role: roleSchema,
  identity: identitySchema,
  name: z.string().trim().min(1).max(120),
});
const floorBody = z.object({ identity: identitySchema });

/** The page a role opens its invitation with. */
export const pageFor: Record<TokenClaims['role'], string> = {
  operator: '/operator',
  studio: '/studio',
  point: '/point',
  viewer: '/point',
};

/**
 * The HTTP API: session control for operators (the same actions as the
 * signaling messages, behind the same role table) and invitations.
 */
export function createApi({ tokens, sessions, publicUrl, mounts = {} }: ApiDeps): express.Router {
  const api = express.Router();
  api.use(express.json({ limit: '64kb' }));

  const authorize = (action: Action) => authorizeWith(tokens, action);
  const parse = parseBody;

  api.get('/health', (_req, res) => {
    res.json({ ok: true });
  });

  api.get('/sessions', authorize('session.create'), (_req, res) => {
    res.json({ sessions: sessions.list() });
  });

  api.post('/sessions', authorize('session.create'), async (req, res) => {
    const body = parse(sessionInputSchema, req.body);
    res.status(201).json(await sessions.create(body, (res.locals.claims as TokenClaims).sub));
  });

  api.get('/sessions/:sid', authorize('session.join'), async (req, res) => {
    const record = sessions.get(req.params.sid as string);
    const room = await sessions.runningRoom(record.id);
    res.json({ session: record, snapshot: room?.snapshot() ?? null });
  });

  api.post('/sessions/:sid/invitations', authorize('session.create'), async (req, res) => {
    const record = sessions.get(req.params.sid as string);
    const body = parse(invitationBody, req.body);
    const token = await tokens.sign({ sid: record.id, sub: body.identity, role: body.role, name: body.name });
    res.status(201).json({ token, url: `${publicUrl}${pageFor[body.role]}?token=${token}` });
  });

  api.post('/sessions/:sid/live', authorize('session.goLive'), async (req, res) => {
    (await sessions.room(req.params.sid as string)).goLive();
    res.status(204).end();
  });

  api.post('/sessions/:sid/end', authorize('session.end'), async (req, res) => {
    (await sessions.room(req.params.sid as string)).end();
    res.status(204).end();
  });

  api.put('/sessions/:sid/floor', authorize('floor.give'), async (req, res) => {
    const { identity } = parse(floorBody, req.body);
    await (await sessions.room(req.params.sid as string)).giveFloor(identity);
    res.status(204).end();
  });

  api.delete('/sessions/:sid/floor', authorize('floor.take'), async (req, res) => {
    await (await sessions.room(req.params.sid as string)).takeFloor();
    res.status(204).end();
  });

  api.post('/sessions/:sid/recording', authorize('recording.control'), async (req, res) => {
    const room = await sessions.room(req.params.sid as string);
    if (!room.recordingControl) throw new DiemcauError('conflict', 'recording is not available');
    if (room.status !== 'live') throw new DiemcauError('conflict', 'the session is not on air');
    await room.recordingControl.start();
    res.status(204).end();
  });

  api.delete('/sessions/:sid/recording', authorize('recording.control'), async (req, res) => {
    const room = await sessions.room(req.params.sid as string);
    await room.recordingControl?.stop();
    res.status(204).end();
  });

  api.delete('/sessions/:sid/peers/:identity', authorize('peer.remove'), async (req, res) => {
    (await sessions.room(req.params.sid as string)).remove(req.params.identity as string);
    res.status(204).end();
  });

  for (const [at, router] of Object.entries(mounts)) api.use(at, router);

  api.use((_req, _res) => {
    throw new DiemcauError('not-found', 'no such API route');
  });

  api.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    // body-parser's own errors (bad JSON, too large) carry a 4xx status.
    const status = (error as { status?: number }).status;
    const body =
      status && status >= 400 && status < 500
        ? { code: 'bad-request' as const, message: (error as Error).message }
        : toErrorBody(error);
    res.status(httpStatus[body.code] ?? 500).json({ error: body });
  });

  return api;
}
