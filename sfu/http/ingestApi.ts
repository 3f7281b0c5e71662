import express from 'express';
import { ingestBackupSchema, ingestRotateSchema } from '../../protocol/index.js';
import type { TokenService } from '../auth/TokenService.js';
import type { IngestService } from '../ingest/IngestService.js';
import { authorize, claimsOf, parseBody } from './authorize.js';

/**
 * The operator's view of a session's encoder (mount at '/sessions/:sid/ingest'):
 * where the broadcast desk sends the program, with which secrets, and what
 * arrives. The secrets are the session's keys to the air: never cached.
 */
export function createIngestApi(deps: { tokens: TokenService; ingest: IngestService }): express.Router {
  const router = express.Router({ mergeParams: true });
  router.get('/', authorize(deps.tokens, 'ingest.manage'), async (req, res) => {
    res.set('Cache-Control', 'no-store');
    res.json(await deps.ingest.describe(String(req.params.sid)));
  });
  router.post('/rotate', authorize(deps.tokens, 'ingest.manage'), async (req, res) => {
    const { protocol } = parseBody(ingestRotateSchema, req.body);
    res.set('Cache-Control', 'no-store');
    res.json(await deps.ingest.rotate(String(req.params.sid), protocol, claimsOf(res).sub));
  });
  router.put('/backup', authorize(deps.tokens, 'ingest.manage'), async (req, res) => {
    const { allow } = parseBody(ingestBackupSchema, req.body);
    res.set('Cache-Control', 'no-store');
    res.json(await deps.ingest.allowBackup(String(req.params.sid), allow, claimsOf(res).sub));
  });
  return router;
}
