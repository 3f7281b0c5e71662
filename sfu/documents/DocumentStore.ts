import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { SessionDocument } from '../../protocol/index.js';
import { DiemcauError, NotFoundError } from '../errors.js';
import type { Store } from '../store/Store.js';

export type Document = SessionDocument;

/** A refusal with its own HTTP status (413 too large, 415 not a PDF); the error code stays 'bad-request'. */
export class UploadError extends DiemcauError {
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super('bad-request', message);
    this.name = 'UploadError';
  }
}

/** Document ids are ours (random hex): the only names ever joined to the documents folder. */
const documentId = /^[a-f0-9]{24}$/;
const pdfMagic = Buffer.from('%PDF-');
const maxFilenameLength = 120;

/**
 * The name a document is shown and downloaded under: the last path segment of
 * what the client sent, without control or format characters (bidi overrides),
 * without characters file systems and headers choke on, without leading dots,
 * at most 120 characters, ending in .pdf. Empty → null (the caller refuses it).
 */
export function sanitizeFilename(raw: string): string | null {
  let name = raw.normalize('NFC').replace(/\\/g, '/');
  name = name.slice(name.lastIndexOf('/') + 1);
  name = name
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '')
    .replace(/["<>:|?*]/g, '_')
    .replace(/\s+/gu, ' ')
    .trim()
    .replace(/^[.\s]+/u, '')
    .replace(/[.\s]+$/u, '');
  if (!name || /^[._\s-]*$/u.test(name.replace(/\.pdf$/i, ''))) return null;
  if (!/\.pdf$/i.test(name)) name += '.pdf';
  const chars = [...name];
  if (chars.length > maxFilenameLength) {
    const ext = name.slice(-4);
    name =
      chars
        .slice(0, maxFilenameLength - 4)
        .join('')
        .trimEnd() + ext;
  }
  return name;
}

export interface SaveOptions {
  sessionId: string;
  agendaItemId?: string;
  filename: string;
  uploadedBy: string;
  body: Readable;
  maxBytes: number;
}

/**
 * PDFs under `<dataDir>/documents/<id>.pdf`, their records in the store's
 * 'documents' collection. A file is written to a temporary name, synced and
 * renamed, so a crash never leaves half a document under a real id; leftover
 * temporary files are swept at start.
 */
export class DocumentStore {
  readonly dir: string;

  constructor(
    private readonly store: Store,
    dataDir: string,
  ) {
    this.dir = path.resolve(dataDir, 'documents');
    fs.mkdirSync(this.dir, { recursive: true });
    for (const file of fs.readdirSync(this.dir)) {
      if (file.endsWith('.tmp')) fs.rmSync(path.join(this.dir, file), { force: true });
    }
  }

  /** The file of a document, or undefined for an id that is not one of ours. */
  fileOf(id: string): string | undefined {
    return documentId.test(id) ? path.join(this.dir, `${id}.pdf`) : undefined;
  }

  async get(id: string): Promise<Document> {
    const record = documentId.test(id) ? await this.store.get<Document>('documents', id) : undefined;
    if (!record) throw new NotFoundError(`no document ${id}`);
    return record;
  }

  async list(sessionId?: string): Promise<Document[]> {
    const all = await this.store.list<Document>('documents');
    return all.filter((d) => sessionId === undefined || d.sessionId === sessionId).sort((a, b) => a.uploadedAt - b.uploadedAt);
  }

  /** Streams the body to disk, checking size and the PDF signature on the way. */
  async save(options: SaveOptions): Promise<Document> {
    const filename = sanitizeFilename(options.filename);
    if (!filename) throw new UploadError(400, 'filename: the name is empty once paths and control characters are removed');
    const id = randomBytes(12).toString('hex');
    const file = path.join(this.dir, `${id}.pdf`);
    const tmp = path.join(this.dir, `.${id}.${process.pid}.tmp`);
    const hash = createHash('sha256');
    let size = 0;
    let head = Buffer.alloc(0);
    const fd = await fs.promises.open(tmp, 'wx', 0o640);
    try {
      try {
        // A refused upload leaves the request open: the API still answers on it (then closes it).
        const chunks = options.body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>;
        for await (const chunk of chunks) {
          size += chunk.length;
          if (size > options.maxBytes) throw tooLarge(options.maxBytes);
          if (head.length < pdfMagic.length) {
            head = Buffer.concat([head, chunk.subarray(0, pdfMagic.length - head.length)]);
            if (!pdfMagic.subarray(0, head.length).equals(head)) throw notPdf();
          }
          hash.update(chunk);
          await fd.write(chunk);
        }
        if (head.length < pdfMagic.length) throw notPdf();
        await fd.sync();
      } finally {
        await fd.close();
      }
      await fs.promises.rename(tmp, file);
    } catch (error) {
      await fs.promises.rm(tmp, { force: true });
      throw error;
    }
    const record: Document = {
      id,
      sessionId: options.sessionId,
      ...(options.agendaItemId ? { agendaItemId: options.agendaItemId } : {}),
      filename,
      size,
      sha256: hash.digest('hex'),
      uploadedBy: options.uploadedBy,
      uploadedAt: Date.now(),
    };
    try {
      await this.store.put('documents', id, record);
    } catch (error) {
      await fs.promises.rm(file, { force: true });
      throw error;
    }
    return record;
  }

  async delete(id: string): Promise<Document> {
    const record = await this.get(id);
    await this.store.delete('documents', id);
    await fs.promises.rm(this.fileOf(id)!, { force: true });
    return record;
  }
}

export function tooLarge(maxBytes: number): UploadError {
  return new UploadError(413, `the document is larger than ${Math.round((maxBytes / 1024 / 1024) * 10) / 10} MB`);
}

function notPdf(): UploadError {
  return new UploadError(400, 'the document is not a PDF (it must start with %PDF-)');
}
