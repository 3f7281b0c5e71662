import express from 'express';
import { attendanceCsvQuerySchema, auditQuerySchema, muteBodySchema, webhookInputSchema } from '../../protocol/index.js';
import type { AuditLog } from '../audit/AuditLog.js';
import type { RoomAudit } from '../audit/roomAudit.js';
import type { TokenService } from '../auth/TokenService.js';
import type { SessionControl } from '../cluster/SessionControl.js';
import type { SessionRegistry } from '../room/SessionRegistry.js';
import type { AttendanceService } from '../rollcall/Attendance.js';
import type { RollCallService } from '../rollcall/RollCall.js';
import type { WebhookDispatcher } from '../webhooks/WebhookDispatcher.js';
import { authorize, claimsOf, parseBody } from './authorize.js';
import { authorizeAll } from './guards.js';

export interface RollCallApiDeps {
  tokens: TokenService;
  sessions: SessionRegistry;
  rollCall: RollCallService;
  attendance: AttendanceService;
  audit: AuditLog;
  roomAudit: RoomAudit;
  webhooks: WebhookDispatcher;
  /** Runs the roll call and mutes where the session's Room runs. */
  control: SessionControl;
}

export interface RollCallRouters {
  /** Mount at '/sessions/:sid' (reads :sid). */
  session: express.Router;
  /** Mount at '/audit'. */
  audit: express.Router;
  /** Mount at '/webhooks'. */
  webhooks: express.Router;
}

/**
 * The operator's monitoring routes (docs/operator-api.md): roll call, mute,
 * attendance, audit log and webhooks, as route groups for createApi's
 * `mounts`, each at its own path under /api.
 */
export function createRollCallRouters(deps: RollCallApiDeps): RollCallRouters {
  const { tokens } = deps;

  const perSession = express.Router({ mergeParams: true });
  perSession.get('/rollcall', authorize(tokens, 'session.monitor'), async (req, res) => {
    res.set('Cache-Control', 'no-store');
    res.json(await deps.control.run(String(req.params.sid), { kind: 'rollcall' }, claimsOf(res).sub));
  });

  perSession.post('/peers/:identity/mute', authorize(tokens, 'peer.mute'), async (req, res) => {
    const { muted } = parseBody(muteBodySchema, req.body);
    const identity = String(req.params.identity);
    await deps.control.run(String(req.params.sid), { kind: 'mute', identity, muted }, claimsOf(res).sub);
    res.status(204).end();
  });

  perSession.get('/attendance.csv', authorize(tokens, 'session.monitor'), async (req, res) => {
    const sid = String(req.params.sid);
    const { lang } = parseBody(attendanceCsvQuerySchema, { lang: req.query.lang });
    const csv = await deps.attendance.csv(sid, Date.now(), lang);
    res.set('Cache-Control', 'no-store');
    res.type('text/csv; charset=utf-8');
    res.attachment(lang === 'vi' ? `diem-danh-${sid}.csv` : `attendance-${sid}.csv`);
    res.send(csv);
  });

  perSession.get('/attendance', authorize(tokens, 'session.monitor'), async (req, res) => {
    res.set('Cache-Control', 'no-store');
    res.json(await deps.attendance.report(String(req.params.sid)));
  });

  const audit = express.Router();
  audit.get('/', authorizeAll(tokens, 'session.monitor'), async (req, res) => {
    const query = parseBody(auditQuerySchema, req.query);
    res.json({ entries: await deps.audit.read({ sessionId: query.sessionId, limit: query.limit }) });
  });

  const webhooks = express.Router();
  webhooks.get('/', authorizeAll(tokens, 'webhooks.manage'), async (_req, res) => {
    res.json({ webhooks: await deps.webhooks.list() });
  });

  webhooks.post('/', authorizeAll(tokens, 'webhooks.manage'), async (req, res) => {
    const body = parseBody(webhookInputSchema, req.body);
    const actor = claimsOf(res).sub;
    const webhook = await deps.webhooks.create(body, actor);
    deps.roomAudit.record({ actor, action: 'webhook.create', target: webhook.id, details: { url: webhook.url, events: webhook.events } });
    res.status(201).json(webhook);
  });

  webhooks.delete('/:id', authorizeAll(tokens, 'webhooks.manage'), async (req, res) => {
    const id = String(req.params.id);
    await deps.webhooks.delete(id);
    deps.roomAudit.record({ actor: claimsOf(res).sub, action: 'webhook.delete', target: id });
    res.status(204).end();
  });

  return { session: perSession, audit, webhooks };
}
