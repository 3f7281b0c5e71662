import { decodeJwt } from 'jose';
import express, { type Request, type Response } from 'express';
import {
  agendaCurrentSchema,
  floorGiveSchema,
  studioChooseSchema,
  invitationRequestSchema,
  isSessionOver,
  sessionExtendSchema,
  sessionInputSchema,
  sessionListQuerySchema,
  sessionPatchSchema,
  type Action,
  type AgendaItem,
  type Health,
  type Invitation,
  type Invitations,
  type PublicSession,
  type SessionDetail,
  type SessionList,
  type SessionRecord,
  type TokenClaims,
} from '../../protocol/index.js';
import type { AuditLog } from '../audit/AuditLog.js';
import type { TokenService } from '../auth/TokenService.js';
import { BusyError, ConflictError, DiemcauError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ReadinessService } from '../readiness/ReadinessService.js';
import type { PointRegistry } from '../registry/PointRegistry.js';
import { authorize as authorizeWith, claimsOf, parseBody } from './authorize.js';
import { authorizeAll } from './guards.js';
import { auditor } from './pointsApi.js';
import { refuseCrossSite } from './sameOrigin.js';
import type { ControlAction, SessionControl } from '../cluster/SessionControl.js';
import type { SessionRegistry } from '../room/SessionRegistry.js';
import { findConflicts } from '../schedule/conflicts.js';
import { sessionsToIcs } from '../schedule/ics.js';

export interface ApiDeps {
  tokens: TokenService;
  sessions: SessionRegistry;
  points: PointRegistry;
  audit: AuditLog;
  logger: Logger;
  publicUrl: string;
  control: SessionControl;
  /** Sessions the store may hold (scheduled, live and ended): creating one more is refused as busy. */
  maxSessions?: number;
  /** More route groups, each at its own path under /api (points, documents, …). */
  mounts?: Record<string, express.Router>;
  /** Where the points' latest readiness checks are read (the schedule counts them); none: not counted. */
  readiness?: Pick<ReadinessService, 'forPoints'>;
}

/**
 * Gives agenda items without an id one that no other item has (item-1, item-2, …);
 * two items with the same id are refused. Items that keep their id keep their documents.
 */
function withAgendaIds(
  items: readonly { id?: string; title: string; presenter?: string; documentIds?: string[] }[],
  previous: readonly AgendaItem[] = [],
): AgendaItem[] {
  const given = items.map((i) => i.id).filter((id): id is string => !!id);
  const duplicate = given.find((id, i) => given.indexOf(id) !== i);
  if (duplicate) throw new DiemcauError('bad-request', `agenda: two items have the id ${duplicate}`);
  const taken = new Set(given);
  let n = 0;
  return items.map((item) => {
    let id = item.id;
    if (!id) {
      do id = `item-${++n}`;
      while (taken.has(id));
      taken.add(id);
    }
    const before = previous.find((p) => p.id === id);
    return {
      id,
      title: item.title,
      ...(item.presenter ? { presenter: item.presenter } : {}),
      documentIds: item.documentIds ?? before?.documentIds ?? [],
    };
  });
}

function refuseClosed(record: SessionRecord): void {
  if (record.status === 'ended') throw new ConflictError(`session ${record.id} has ended`);
  if (record.status === 'cancelled') throw new ConflictError(`session ${record.id} was cancelled`);
}

const hour = 3600 * 1000;

/**
 * The page an invitation opens: the session's control room for an operator
 * (the console's, which a link's token opens without a sign-in; links of the
 * older `/operator?token=…` form lead there too), the hall's or a point's page
 * for the others.
 */
export function invitationPath(claims: Pick<TokenClaims, 'sid' | 'role'>): string {
  if (claims.role === 'operator') return `/console/sessions/${encodeURIComponent(claims.sid)}/live`;
  return claims.role === 'studio' ? '/studio' : '/point';
}

/**
 * The HTTP API: session control for operators (the same actions as the
 * signaling messages, behind the same role table) and invitations.
 */
export function createApi(deps: ApiDeps): express.Router {
  const { tokens, sessions, points, audit, logger, publicUrl, control, maxSessions = Number.POSITIVE_INFINITY, mounts = {} } = deps;
  const api = express.Router();
  // Before the body is read: a cross-site request with the operator's cookie goes no further.
  api.use(refuseCrossSite(publicUrl));
  api.use(express.json({ limit: '256kb' }));

  const authorize = (action: Action) => authorizeWith(tokens, action);
  const parse = parseBody;
  const record = auditor(audit, logger);

  /** Refuses invitations of points or groups that are not registered, naming them. */
  const requireRegistered = (invitedPoints: readonly string[] = [], invitedGroups: readonly string[] = []) => {
    const unknownPoints = points.unknownPoints(invitedPoints);
    const unknownGroups = points.unknownGroups(invitedGroups);
    const problems = [
      ...(unknownPoints.length ? [`invitedPoints: not registered: ${unknownPoints.join(', ')}`] : []),
      ...(unknownGroups.length ? [`invitedGroups: not registered: ${unknownGroups.join(', ')}`] : []),
    ];
    if (problems.length) throw new DiemcauError('bad-request', problems.join('; '));
  };

  /** A registered point's link carries its invitation version (an older one is refused). */
  const pointClaims = (sid: string, point: { id: string; name: string; invitationVersion: number }): TokenClaims => ({
    sid,
    sub: point.id,
    role: 'point',
    name: point.name,
    ver: point.invitationVersion,
  });

  api.get('/health', (_req, res) => {
    res.json({ ok: true } satisfies Health);
  });

  api.get('/sessions', authorizeAll(tokens, 'schedule.view'), async (req, res) => {
    const { from, to } = parse(sessionListQuerySchema, req.query);
    const all = sessions.list();
    const conflicts = findConflicts(all, { membersOf: (g) => points.members(g).map((p) => p.id) });
    const listed = all
      .filter((s) => {
        // A session without times spans from its creation (to its last change once over).
        const start = s.startsAt ?? s.createdAt;
        const end = s.endsAt ?? (isSessionOver(s.status) ? s.updatedAt : Number.POSITIVE_INFINITY);
        return (from === undefined || end >= from) && (to === undefined || start < to);
      })
      .sort((a, b) => (a.startsAt ?? a.createdAt) - (b.startsAt ?? b.createdAt))
      .map((s) => ({ ...s, conflicts: conflicts.get(s.id) ?? [] }));
    // Invited and connected are two numbers: a dashboard that showed one as the other misled the operator.
    const withCounts = await Promise.all(
      listed.map(async (s) => {
        const reach = new Set([...s.invitedPoints, ...s.invitedGroups.flatMap((g) => points.members(g).map((p) => p.id))]);
        const invitedReach = reach.size;
        const room = isSessionOver(s.status) ? undefined : await sessions.runningRoom(s.id).catch(() => undefined);
        const connectedPoints = room ? [...room.peers.values()].filter((p) => p.role === 'point').length : undefined;
        // Before and during a session the operator sees at a glance how many invited points checked their equipment.
        const checks = isSessionOver(s.status) || !deps.readiness ? undefined : await deps.readiness.forPoints(s.id, [...reach]);
        const verdicts = [...(checks?.values() ?? [])].map((state) => state.latest?.verdict);
        const readiness = checks && {
          ready: verdicts.filter((v) => v === 'ready').length,
          problem: verdicts.filter((v) => v === 'problem').length,
        };
        return { ...s, invitedReach, ...(connectedPoints !== undefined ? { connectedPoints } : {}), ...(readiness ? { readiness } : {}) };
      }),
    );
    res.json({ sessions: withCounts } satisfies SessionList);
  });

  api.post('/sessions', authorizeAll(tokens, 'session.create'), async (req, res) => {
    const body = parse(sessionInputSchema, req.body);
    requireRegistered(body.invitedPoints, body.invitedGroups);
    const agenda = withAgendaIds(body.agenda);
    // Checked in the same tick as create() adds the record: two requests at once cannot both pass.
    if (sessions.list().length >= maxSessions) throw new BusyError(`this server keeps at most ${maxSessions} sessions`);
    const created = await sessions.create(
      { ...body, agenda, invitedPoints: [...new Set(body.invitedPoints)], invitedGroups: [...new Set(body.invitedGroups)] },
      claimsOf(res).sub,
    );
    await record({
      actor: claimsOf(res).sub,
      action: 'session.create',
      sessionId: created.id,
      target: created.id,
      details: { title: created.title, startsAt: created.startsAt, endsAt: created.endsAt },
    });
    res.status(201).json(created);
  });

  api.patch('/sessions/:sid', authorize('session.create'), async (req, res) => {
    const current = sessions.get(req.params.sid as string);
    refuseClosed(current);
    const patch = parse(sessionPatchSchema, req.body);
    requireRegistered(patch.invitedPoints, patch.invitedGroups);
    const agenda = patch.agenda ? withAgendaIds(patch.agenda, current.agenda) : undefined;
    const change = (r: SessionRecord): SessionRecord => {
      refuseClosed(r);
      const next: SessionRecord = { ...r };
      if (patch.title !== undefined) next.title = patch.title;
      if (patch.description === null) delete next.description;
      else if (patch.description !== undefined) next.description = patch.description;
      if (patch.startsAt === null) delete next.startsAt;
      else if (patch.startsAt !== undefined) next.startsAt = patch.startsAt;
      if (patch.endsAt === null) delete next.endsAt;
      else if (patch.endsAt !== undefined) next.endsAt = patch.endsAt;
      if (patch.timeZone !== undefined) next.timeZone = patch.timeZone;
      if (agenda) next.agenda = agenda;
      if (patch.invitedPoints) next.invitedPoints = [...new Set(patch.invitedPoints)];
      if (patch.invitedGroups) next.invitedGroups = [...new Set(patch.invitedGroups)];
      if (patch.public !== undefined) next.public = patch.public;
      if (patch.autoOnAir !== undefined) next.autoOnAir = patch.autoOnAir;
      if (next.startsAt !== undefined && next.endsAt !== undefined && next.endsAt <= next.startsAt) {
        throw new DiemcauError('bad-request', 'endsAt: the end must come after the start');
      }
      if (next.currentAgendaItem && !next.agenda.some((i) => i.id === next.currentAgendaItem)) delete next.currentAgendaItem;
      // Given a start, a session not yet open waits for it; without one, for someone to open it.
      if (r.status === 'scheduled' || r.status === 'waiting') next.status = next.startsAt !== undefined ? 'scheduled' : 'waiting';
      return next;
    };
    change(current); // a bad combination is a 400 before anything is written
    const updated = await sessions.update(current.id, change);
    const room = await sessions.runningRoom(updated.id);
    if (room && room.agendaItem?.id !== updated.currentAgendaItem) {
      await sessions.setAgendaItem(updated.id, updated.currentAgendaItem ?? null);
    }
    await record({
      actor: claimsOf(res).sub,
      action: 'session.update',
      sessionId: updated.id,
      target: updated.id,
      details: { changes: patch },
    });
    res.json(updated);
  });

  api.post('/sessions/:sid/cancel', authorize('session.create'), async (req, res) => {
    const current = sessions.get(req.params.sid as string);
    refuseClosed(current);
    const room = await sessions.runningRoom(current.id);
    if (current.status === 'live' || room?.status === 'live') throw new ConflictError('the session is on air: end it instead');
    // Those already waiting in it are sent away (close emits no status of its own to undo "cancelled").
    room?.close();
    const updated = await sessions.update(current.id, (r) => {
      if (r.status === 'live' || r.status === 'ended') throw new ConflictError(`session ${r.id} has already taken place`);
      return { ...r, status: 'cancelled' };
    });
    await record({ actor: claimsOf(res).sub, action: 'session.cancel', sessionId: updated.id, target: updated.id });
    res.json(updated);
  });

  api.post('/sessions/:sid/extend', authorize('session.create'), async (req, res) => {
    const current = sessions.get(req.params.sid as string);
    refuseClosed(current);
    const { minutes } = parse(sessionExtendSchema, req.body);
    if (current.endsAt === undefined) throw new ConflictError('the session has no scheduled end to extend');
    const updated = await sessions.update(current.id, (r) => {
      refuseClosed(r);
      if (r.endsAt === undefined) throw new ConflictError('the session has no scheduled end to extend');
      return { ...r, endsAt: r.endsAt + minutes * 60_000 };
    });
    await record({
      actor: claimsOf(res).sub,
      action: 'session.extend',
      sessionId: updated.id,
      target: updated.id,
      details: { minutes, endsAt: updated.endsAt },
    });
    res.json(updated);
  });

  api.get('/sessions/:sid/invitations', authorize('session.create'), async (req, res) => {
    const session = sessions.get(req.params.sid as string);
    refuseClosed(session);
    // Valid for the configured lifetime (DIEMCAU_TOKEN_TTL_HOURS), and in any case through the session and 12 h after its end.
    const now = Date.now();
    const end = session.endsAt ?? session.startsAt ?? now;
    const ttlSeconds = Math.max(tokens.ttlSeconds, Math.ceil((end + 12 * hour - now) / 1000));
    const sign = async (claims: TokenClaims) => {
      const token = await tokens.sign(claims, ttlSeconds);
      return { token, url: `${publicUrl}${invitationPath(claims)}?token=${token}`, expiresAt: (decodeJwt(token).exp ?? 0) * 1000 };
    };
    const studio = await sign({ sid: session.id, sub: 'studio', role: 'studio', name: 'Hội trường tỉnh' });
    const invited = points.invited(session.invitedPoints, session.invitedGroups).filter((p) => !p.disabled);
    const links = await Promise.all(
      invited.map(async (p) => {
        const { url, expiresAt } = await sign(pointClaims(session.id, p));
        return { pointId: p.id, name: p.name, url, expiresAt };
      }),
    );
    res.json({ studio: { url: studio.url, expiresAt: studio.expiresAt }, points: links } satisfies Invitations);
  });

  api.put('/sessions/:sid/agenda/current', authorize('agenda.control'), async (req, res) => {
    const current = sessions.get(req.params.sid as string);
    refuseClosed(current);
    const { itemId } = parse(agendaCurrentSchema, req.body);
    if (itemId !== null && !current.agenda.some((i) => i.id === itemId)) {
      throw new DiemcauError('bad-request', `itemId: the session has no agenda item ${itemId}`);
    }
    await sessions.setAgendaItem(current.id, itemId);
    await record({
      actor: claimsOf(res).sub,
      action: 'agenda.current',
      sessionId: current.id,
      target: itemId ?? undefined,
      details: { itemId },
    });
    res.json(sessions.get(current.id));
  });

  const calendar = (all: SessionRecord[], name: string, res: Response, visibility: 'public' | 'private') => {
    res.set({
      'Content-Type': 'text/calendar; charset=utf-8',
      'Content-Disposition': 'inline; filename="diemcau.ics"',
      'Cache-Control': `${visibility}, max-age=300`,
    });
    res.send(sessionsToIcs(all, { name, publicUrl }));
  };

  api.get('/calendar.ics', authorizeAll(tokens, 'schedule.view', { queryToken: true }), (_req, res) => {
    calendar(sessions.list(), 'Diemcau — lịch họp', res, 'private');
  });

  // What members may watch soon or now: the public sessions not yet over.
  api.get('/calendar/public', (_req, res) => {
    const upcoming = sessions
      .list()
      .filter((s) => s.public && !isSessionOver(s.status))
      .sort((a, b) => (a.startsAt ?? a.createdAt) - (b.startsAt ?? b.createdAt))
      .map(({ id, title, description, startsAt, endsAt, timeZone, status, agenda }): PublicSession => ({
        id,
        title,
        description,
        startsAt,
        endsAt,
        timeZone,
        status,
        agenda: agenda.map((item) => ({ title: item.title, presenter: item.presenter })),
      }));
    res.set('Cache-Control', 'no-cache');
    res.json({ sessions: upcoming });
  });

  api.get('/calendar/public.ics', (_req, res) => {
    calendar(
      sessions.list().filter((s) => s.public),
      'Diemcau — lịch phiên công khai',
      res,
      'public',
    );
  });

  api.get('/sessions/:sid', authorize('session.join'), async (req, res) => {
    const record = sessions.get(req.params.sid as string);
    const room = await sessions.runningRoom(record.id);
    res.json({ session: record, snapshot: room?.snapshot() ?? null } satisfies SessionDetail);
  });

  api.post('/sessions/:sid/invitations', authorize('session.create'), async (req, res) => {
    const record = sessions.get(req.params.sid as string);
    const body = parse(invitationRequestSchema, req.body);
    // A registered point's link must carry its current version, or the token check refuses it.
    const point = body.role === 'point' ? points.findPoint(body.identity) : undefined;
    if (point?.disabled) throw new ConflictError(`connection point ${point.id} is disabled`);
    // A signed-in operator's link for themselves (the console's control room) ends with their sign-in.
    const minter = claimsOf(res);
    const own = body.role === 'operator' && minter.gen !== undefined && body.identity === minter.sub ? { gen: minter.gen } : {};
    const claims: TokenClaims = point
      ? { ...pointClaims(record.id, point), name: body.name }
      : { sid: record.id, sub: body.identity, role: body.role, name: body.name, ...own };
    const token = await tokens.sign(claims);
    res.status(201).json({ token, url: `${publicUrl}${invitationPath(claims)}?token=${token}` } satisfies Invitation);
  });

  // Session control: run where the session's Room runs (this node or another).
  const act = (req: Request, res: Response, action: ControlAction) => control.run(String(req.params.sid), action, claimsOf(res).sub);

  api.post('/sessions/:sid/live', authorize('session.goLive'), async (req, res) => {
    await act(req, res, { kind: 'goLive' });
    res.status(204).end();
  });

  api.post('/sessions/:sid/end', authorize('session.end'), async (req, res) => {
    await act(req, res, { kind: 'end' });
    res.status(204).end();
  });

  api.put('/sessions/:sid/floor', authorize('floor.give'), async (req, res) => {
    const { identity } = parse(floorGiveSchema, req.body);
    await act(req, res, { kind: 'floor.give', identity });
    res.status(204).end();
  });

  api.put('/sessions/:sid/studio', authorize('floor.give'), async (req, res) => {
    const { identity } = parse(studioChooseSchema, req.body);
    await act(req, res, { kind: 'studio.choose', identity });
    res.status(204).end();
  });

  api.delete('/sessions/:sid/floor', authorize('floor.take'), async (req, res) => {
    await act(req, res, { kind: 'floor.take' });
    res.status(204).end();
  });

  api.post('/sessions/:sid/recording', authorize('recording.control'), async (req, res) => {
    await act(req, res, { kind: 'recording.start' });
    res.status(204).end();
  });

  api.delete('/sessions/:sid/recording', authorize('recording.control'), async (req, res) => {
    await act(req, res, { kind: 'recording.stop' });
    res.status(204).end();
  });

  api.delete('/sessions/:sid/peers/:identity', authorize('peer.remove'), async (req, res) => {
    await act(req, res, { kind: 'remove', identity: String(req.params.identity) });
    res.status(204).end();
  });

  for (const [at, router] of Object.entries(mounts)) api.use(at, router);

  // Errors, this one included, are answered by the server's one error handler (errorHandler.ts).
  api.use((_req, _res) => {
    throw new DiemcauError('not-found', 'no such API route');
  });

  return api;
}
