import express from 'express';
import { groupInputSchema, groupPatchSchema, isSessionOver, pointInputSchema, pointPatchSchema } from '../../protocol/index.js';
import type { AuditEntry, AuditLog } from '../audit/AuditLog.js';
import type { TokenService } from '../auth/TokenService.js';
import type { Logger } from '../logger.js';
import type { PointRegistry } from '../registry/PointRegistry.js';
import type { SessionRegistry } from '../room/SessionRegistry.js';
import { claimsOf, parseBody } from './authorize.js';
import { authorizeAll } from './guards.js';

export interface PointsApiDeps {
  tokens: TokenService;
  points: PointRegistry;
  sessions: SessionRegistry;
  audit: AuditLog;
  logger: Logger;
}

/** Writes an audit entry; a store failure is logged, the action it records has happened. */
export function auditor(audit: AuditLog, logger: Logger) {
  return async (entry: Omit<AuditEntry, 'at'>): Promise<void> => {
    try {
      await audit.record(entry);
    } catch (error) {
      logger.error({ err: error, entry }, 'could not write the audit log');
    }
  };
}

/**
 * Connection points (`/api/points`) and groups (`/api/groups`): operators
 * signed in for every session manage them.
 */
export function createPointsApi(deps: PointsApiDeps): { points: express.Router; groups: express.Router } {
  const { points: registry, sessions } = deps;
  const guard = authorizeAll(deps.tokens, 'session.create');
  const record = auditor(deps.audit, deps.logger);

  /** Closes the point's connections on this node: its current link no longer admits it. */
  const disconnect = async (identity: string) => {
    for (const s of sessions.list()) {
      const room = await sessions.runningRoom(s.id).catch(() => undefined);
      if (room?.peers.get(identity)?.role === 'point') room.remove(identity);
    }
  };

  const points = express.Router();
  points.use(guard);

  points.get('/', (_req, res) => {
    res.json({ points: registry.listPoints() });
  });

  points.post('/', async (req, res) => {
    const body = parseBody(pointInputSchema, req.body);
    const point = await registry.createPoint(body);
    await record({ actor: claimsOf(res).sub, action: 'point.create', target: point.id, details: { name: point.name } });
    res.status(201).json(point);
  });

  points.get('/:id', (req, res) => {
    res.json(registry.getPoint(req.params.id));
  });

  points.patch('/:id', async (req, res) => {
    const body = parseBody(pointPatchSchema, req.body);
    const before = registry.getPoint(req.params.id);
    const point = await registry.updatePoint(before.id, body);
    await record({ actor: claimsOf(res).sub, action: 'point.update', target: point.id, details: { changes: body } });
    if (point.disabled && !before.disabled) await disconnect(point.id);
    res.json(point);
  });

  points.post('/:id/revoke', async (req, res) => {
    const point = await registry.revokePoint(req.params.id);
    await record({
      actor: claimsOf(res).sub,
      action: 'point.revoke',
      target: point.id,
      details: { invitationVersion: point.invitationVersion },
    });
    await disconnect(point.id);
    res.json(point);
  });

  points.delete('/:id', async (req, res) => {
    const point = await registry.deletePoint(req.params.id);
    // Sessions still to come or on air stop inviting it; those over keep their record of who was invited.
    for (const s of sessions.list()) {
      if (!isSessionOver(s.status) && s.invitedPoints.includes(point.id)) {
        await sessions.update(s.id, (r) => ({ ...r, invitedPoints: r.invitedPoints.filter((p) => p !== point.id) }));
      }
    }
    await record({ actor: claimsOf(res).sub, action: 'point.delete', target: point.id, details: { name: point.name } });
    await disconnect(point.id);
    res.status(204).end();
  });

  const groups = express.Router();
  groups.use(guard);

  groups.get('/', (_req, res) => {
    res.json({ groups: registry.listGroups() });
  });

  groups.post('/', async (req, res) => {
    const body = parseBody(groupInputSchema, req.body);
    const group = await registry.createGroup(body);
    await record({ actor: claimsOf(res).sub, action: 'group.create', target: group.id, details: { name: group.name, kind: group.kind } });
    res.status(201).json(group);
  });

  groups.get('/:id', (req, res) => {
    const group = registry.getGroup(req.params.id);
    res.json({ ...group, pointIds: registry.members(group.id).map((p) => p.id) });
  });

  groups.patch('/:id', async (req, res) => {
    const body = parseBody(groupPatchSchema, req.body);
    const group = await registry.updateGroup(req.params.id, body);
    await record({ actor: claimsOf(res).sub, action: 'group.update', target: group.id, details: { changes: body } });
    res.json(group);
  });

  groups.delete('/:id', async (req, res) => {
    const group = await registry.deleteGroup(req.params.id);
    for (const s of sessions.list()) {
      if (!isSessionOver(s.status) && s.invitedGroups.includes(group.id)) {
        await sessions.update(s.id, (r) => ({ ...r, invitedGroups: r.invitedGroups.filter((g) => g !== group.id) }));
      }
    }
    await record({ actor: claimsOf(res).sub, action: 'group.delete', target: group.id, details: { name: group.name } });
    res.status(204).end();
  });

  return { points, groups };
}
