import express, { type Request } from 'express';
import { allows, can } from '../../protocol/index.js';
import type { AuditLog } from '../audit/AuditLog.js';
import type { TokenService } from '../auth/TokenService.js';
import { tooLarge, UploadError, type Document, type DocumentStore } from '../documents/DocumentStore.js';
import { DiemcauError, ForbiddenError, NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SessionRegistry } from '../room/SessionRegistry.js';
import { authorize, claimsOf } from './authorize.js';
import { tokenOrQueryOf } from './guards.js';
import { auditor } from './pointsApi.js';

export interface DocumentsApiDeps {
  tokens: TokenService;
  sessions: SessionRegistry;
  documents: DocumentStore;
  audit: AuditLog;
  logger: Logger;
  /** Largest upload, in bytes. */
  maxBytes: number;
}

/** `inline` with an ASCII fallback name and the exact UTF-8 name (RFC 6266 / 8187). */
export function inlineDisposition(filename: string): string {
  const fallback =
    filename
      .normalize('NFKD')
      .replace(/[^\x20-\x7e]/g, '')
      .replace(/["\\%]/g, '_')
      .trim() || 'document.pdf';
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `inline; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

function queryString(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new DiemcauError('bad-request', `${name}: give it once, as text`);
  return value;
}

/**
 * Paperless meeting: PDFs attached to a session and its agenda items.
 * `sessionDocuments` is mounted at /sessions/:sid/documents, `documents` at /documents.
 */
export function createDocumentsApi(deps: DocumentsApiDeps): { sessionDocuments: express.Router; documents: express.Router } {
  const { tokens, sessions, documents: store } = deps;
  const record = auditor(deps.audit, deps.logger);

  const sessionDocuments = express.Router({ mergeParams: true });

  sessionDocuments.get('/', authorize(tokens, 'session.join'), async (req, res) => {
    const session = sessions.get(req.params.sid as string);
    res.json({ documents: await store.list(session.id) });
  });

  sessionDocuments.post('/', authorize(tokens, 'session.create'), async (req, res) => {
    const session = sessions.get(req.params.sid as string);
    if (!req.is('application/pdf')) throw new UploadError(415, 'send the PDF itself with Content-Type: application/pdf');
    const filename = queryString(req, 'filename');
    if (filename === undefined) throw new UploadError(400, 'filename: the document needs a name (?filename=…)');
    const agendaItem = queryString(req, 'agendaItem') || undefined;
    if (agendaItem !== undefined && !session.agenda.some((i) => i.id === agendaItem)) {
      throw new UploadError(400, `agendaItem: the session has no agenda item ${JSON.stringify(agendaItem.slice(0, 64))}`);
    }
    const declared = Number(req.get('content-length'));
    if (declared > deps.maxBytes) throw tooLarge(deps.maxBytes);
    const document = await store.save({
      sessionId: session.id,
      agendaItemId: agendaItem,
      filename,
      uploadedBy: claimsOf(res).sub,
      body: req,
      maxBytes: deps.maxBytes,
    });
    if (agendaItem) {
      await sessions.update(session.id, (r) => ({
        ...r,
        agenda: r.agenda.map((i) =>
          i.id === agendaItem && i.documentIds.length < 50 ? { ...i, documentIds: [...i.documentIds, document.id] } : i,
        ),
      }));
    }
    await record({
      actor: claimsOf(res).sub,
      action: 'document.upload',
      sessionId: session.id,
      target: document.id,
      details: { filename: document.filename, size: document.size, agendaItemId: agendaItem },
    });
    res.status(201).json(document);
  });

  const documents = express.Router();

  /** The document, if the request's token may see it: an operator of every session, or any token for its session. */
  const readable = async (req: Request): Promise<{ document: Document; claims: Awaited<ReturnType<TokenService['verify']>> }> => {
    const claims = await tokens.verify(tokenOrQueryOf(req));
    const document = await store.get(req.params.id as string);
    // The control room of every session: operators, and observers who read along.
    const operatorOfAll = claims.sid === '*' && allows(claims, 'session.monitor');
    if (!operatorOfAll && claims.sid !== document.sessionId) throw new ForbiddenError('the token is for another session');
    return { document, claims };
  };

  documents.get('/:id', async (req, res) => {
    const { document } = await readable(req);
    if (!store.fileOf(document.id)) throw new NotFoundError(`no document ${document.id}`);
    res.set({
      'Content-Type': 'application/pdf',
      'Content-Disposition': inlineDisposition(document.filename),
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'private, no-cache',
    });
    await new Promise<void>((resolve, reject) =>
      // Only our own id is joined to the folder (fileOf checked it); the client's name never is.
      res.sendFile(`${document.id}.pdf`, { root: store.dir, dotfiles: 'deny', headers: { 'Content-Type': 'application/pdf' } }, (error) => {
        if (!error) resolve();
        else reject((error as { status?: number }).status === 404 ? new NotFoundError('the document file is missing') : error);
      }),
    );
  });

  documents.delete('/:id', async (req, res) => {
    const { document, claims } = await readable(req);
    if (!can(claims.role, 'session.create')) throw new ForbiddenError(`a ${claims.role} may not delete documents`);
    await store.delete(document.id);
    if (sessions.has(document.sessionId)) {
      await sessions.update(document.sessionId, (r) => ({
        ...r,
        agenda: r.agenda.map((i) =>
          i.documentIds.includes(document.id) ? { ...i, documentIds: i.documentIds.filter((d) => d !== document.id) } : i,
        ),
      }));
    }
    await record({
      actor: claims.sub,
      action: 'document.delete',
      sessionId: document.sessionId,
      target: document.id,
      details: { filename: document.filename },
    });
    res.status(204).end();
  });

  return { sessionDocuments, documents };
}
