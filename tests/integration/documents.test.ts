/**
 * Paperless meeting: the operator attaches PDFs to a session and its agenda
 * items; the session's participants read them. Uploads are checked (type,
 * size, signature, agenda item), stored under our own random names only, and
 * served as PDFs that browsers do not second-guess.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocumentStore, sanitizeFilename, type Document } from '../../sfu/documents/DocumentStore.js';
import { startServer, tokenFor } from '../helpers/server.js';

let server: Awaited<ReturnType<typeof startServer>>;
let operator: string;
let documentsDir: string;
const sid = 'hop-tai-lieu';

/** A small but well-formed PDF. */
const pdf = Buffer.from(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n' + 'trailer<</Root 1 0 R>>\n%%EOF\n',
);

const upload = (query: string, body: BodyInit, init: { token?: string; type?: string; headers?: Record<string, string> } = {}) =>
  fetch(`${server.url}/api/sessions/${sid}/documents${query}`, {
    method: 'POST',
    body,
    headers: {
      ...(init.type !== '' ? { 'content-type': init.type ?? 'application/pdf' } : {}),
      authorization: `Bearer ${init.token ?? operator}`,
      ...init.headers,
    },
    // Node's fetch needs this for a streamed body.
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  });

const files = () => fs.readdirSync(documentsDir).sort();

/** Every file under the data folder, relative paths. */
function walk(dir: string, base = dir): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? walk(full, base) : [path.relative(base, full)];
  });
}

beforeAll(async () => {
  server = await startServer({ workers: 1, maxDocumentMb: 1 });
  operator = await tokenFor(server, '*', 'thu-ky', 'operator');
  documentsDir = path.join(server.config.dataDir, 'documents');
  const res = await fetch(`${server.url}/api/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${operator}` },
    body: JSON.stringify({
      id: sid,
      title: 'Họp có tài liệu',
      agenda: [
        { id: 'bao-cao', title: 'Báo cáo' },
        { id: 'ke-hoach', title: 'Kế hoạch' },
      ],
    }),
  });
  expect(res.status).toBe(201);
  await server.sessions.create({ id: 'hop-khac', title: 'Họp khác' });
});

afterAll(async () => {
  await server?.stop();
});

describe('uploading', () => {
  let document: Document;

  it('stores a PDF for an agenda item under a random name and lists it on the item', async () => {
    const res = await upload(`?filename=${encodeURIComponent('Báo cáo quý 1.pdf')}&agendaItem=bao-cao`, pdf);
    expect(res.status).toBe(201);
    document = await res.json();
    expect(document).toMatchObject({
      sessionId: sid,
      agendaItemId: 'bao-cao',
      filename: 'Báo cáo quý 1.pdf',
      size: pdf.length,
      sha256: createHash('sha256').update(pdf).digest('hex'),
      uploadedBy: 'thu-ky',
    });
    expect(document.id).toMatch(/^[a-f0-9]{24}$/);
    expect(files()).toEqual([`${document.id}.pdf`]);
    expect(fs.readFileSync(path.join(documentsDir, `${document.id}.pdf`)).equals(pdf)).toBe(true);
    expect(server.sessions.get(sid).agenda.find((i) => i.id === 'bao-cao')!.documentIds).toEqual([document.id]);
  });

  it('lists the session’s documents to its participants, not to another session’s', async () => {
    const point = await tokenFor(server, sid, 'xa-1', 'point');
    const res = await fetch(`${server.url}/api/sessions/${sid}/documents`, { headers: { authorization: `Bearer ${point}` } });
    expect(res.status).toBe(200);
    expect((await res.json()).documents).toEqual([document]);
    const other = await tokenFor(server, 'hop-khac', 'xa-1', 'point');
    expect((await fetch(`${server.url}/api/sessions/${sid}/documents`, { headers: { authorization: `Bearer ${other}` } })).status).toBe(
      403,
    );
    expect((await fetch(`${server.url}/api/sessions/${sid}/documents`)).status).toBe(401);
  });

  it('serves the PDF inline, with its name, to the session’s participants (token in the query for a viewer’s link)', async () => {
    const viewer = await tokenFor(server, sid, 'khan-gia', 'viewer');
    const res = await fetch(`${server.url}/api/documents/${document.id}?token=${viewer}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-disposition')).toBe(
      `inline; filename="Bao cao quy 1.pdf"; filename*=UTF-8''${encodeURIComponent('Báo cáo quý 1.pdf')}`,
    );
    expect(Buffer.from(await res.arrayBuffer()).equals(pdf)).toBe(true);

    const op = await fetch(`${server.url}/api/documents/${document.id}`, { headers: { authorization: `Bearer ${operator}` } });
    expect(op.status).toBe(200);
    await op.arrayBuffer();
    const other = await tokenFor(server, 'hop-khac', 'xa-1', 'point');
    expect((await fetch(`${server.url}/api/documents/${document.id}?token=${other}`)).status).toBe(403);
    const otherOperator = await tokenFor(server, 'hop-khac', 'op', 'operator');
    expect((await fetch(`${server.url}/api/documents/${document.id}?token=${otherOperator}`)).status).toBe(403);
    expect((await fetch(`${server.url}/api/documents/${document.id}`)).status).toBe(401);
  });

  it('answers 404 for ids that are not ours, paths included', async () => {
    for (const id of ['0123456789abcdef01234567', '..%2F..%2Fstore%2Fsessions.json', '..%2Ftoken-secret', 'token-secret']) {
      const res = await fetch(`${server.url}/api/documents/${id}`, { headers: { authorization: `Bearer ${operator}` } });
      expect(res.status, id).toBe(404);
    }
  });

  it.each([
    ['a body that is not a PDF', '?filename=a.pdf', Buffer.from('<html><script>alert(1)</script></html>'), {}, 400, /not a PDF/],
    ['an empty body', '?filename=a.pdf', Buffer.alloc(0), {}, 400, /not a PDF/],
    ['a body shorter than the signature', '?filename=a.pdf', Buffer.from('%PD'), {}, 400, /not a PDF/],
    ['another content type', '?filename=a.pdf', pdf, { type: 'application/octet-stream' }, 415, /application\/pdf/],
    ['a form upload', '?filename=a.pdf', pdf, { type: 'multipart/form-data; boundary=x' }, 415, /application\/pdf/],
    ['no content type', '?filename=a.pdf', pdf, { type: '' }, 415, /application\/pdf/],
    ['no name', '', pdf, {}, 400, /filename/],
    ['a name that is only a path', `?filename=${encodeURIComponent('../..')}`, pdf, {}, 400, /filename/],
    ['a name of dots and slashes', `?filename=${encodeURIComponent('/../.././')}`, pdf, {}, 400, /filename/],
    ['a name given twice', '?filename=a.pdf&filename=b.pdf', pdf, {}, 400, /filename/],
    ['an agenda item the session does not have', '?filename=a.pdf&agendaItem=khong-co', pdf, {}, 400, /agendaItem/],
  ] as const)('refuses %s', async (_name, query, body, init, status, message) => {
    const before = files();
    const res = await upload(query, body, init);
    expect(res.status).toBe(status);
    const { error } = await res.json();
    expect(error.code).toBe('bad-request');
    expect(error.message).toMatch(message);
    expect(files()).toEqual(before);
  });

  it('refuses a document over the size limit, announced or streamed, and keeps no part of it', async () => {
    const before = files();
    const big = Buffer.concat([pdf, Buffer.alloc(1024 * 1024 + 1 - pdf.length, 0x20)]);
    const announced = await upload('?filename=big.pdf', big);
    expect(announced.status).toBe(413);
    expect((await announced.json()).error.message).toMatch(/larger than 1 MB/);

    // Streamed in chunks without a length: refused once it passes the limit, and the connection is dropped.
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 1000) return controller.close();
        sent++;
        controller.enqueue(sent === 1 ? Buffer.concat([pdf, Buffer.alloc(64 * 1024 - pdf.length, 0x20)]) : Buffer.alloc(64 * 1024, 0x20));
      },
    });
    const streamed = await upload('?filename=big.pdf', stream);
    // 64 MB were on offer; the answer came soon after the first megabyte.
    expect(sent).toBeLessThan(1000);
    expect(streamed.status).toBe(413);
    expect(streamed.headers.get('connection')).toBe('close');
    expect((await streamed.json()).error.message).toMatch(/larger than 1 MB/);
    expect(files()).toEqual(before);

    // Exactly the limit is fine.
    const limit = Buffer.concat([pdf, Buffer.alloc(1024 * 1024 - pdf.length, 0x20)]);
    const ok = await upload('?filename=limit.pdf', limit);
    expect(ok.status).toBe(201);
    const doc = (await ok.json()) as Document;
    expect(doc.size).toBe(1024 * 1024);
    await fetch(`${server.url}/api/documents/${doc.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${operator}` } });
  });

  it('is refused to points and to operators of another session', async () => {
    const point = await tokenFor(server, sid, 'xa-1', 'point');
    expect((await upload('?filename=a.pdf', pdf, { token: point })).status).toBe(403);
    const other = await tokenFor(server, 'hop-khac', 'op', 'operator');
    expect((await upload('?filename=a.pdf', pdf, { token: other })).status).toBe(403);
  });
});

describe('file names', () => {
  it.each([
    ['../../etc/passwd.pdf', 'passwd.pdf'],
    ['..%2F..%2Fetc%2Fpasswd.pdf', '%2F..%2Fetc%2Fpasswd.pdf'], // doubly encoded: text, not a path; no leading dots
    ['..\\..\\Windows\\win.ini.pdf', 'win.ini.pdf'],
    ['C:\\Users\\thu-ky\\Desktop\\Tờ trình.pdf', 'Tờ trình.pdf'],
    ['/etc/shadow', 'shadow.pdf'],
    ['.htaccess', 'htaccess.pdf'],
    ['bao-cao\r\nX-Evil: 1.pdf', 'bao-caoX-Evil_ 1.pdf'],
    ['bao-cao\r\nContent-Type: text/html.pdf', 'html.pdf'],
    ['evil\u202Efdp.exe', 'evilfdp.exe.pdf'],
    ['a\u0000b.pdf', 'ab.pdf'],
    ['  Kế hoạch   2031 .PDF  ', 'Kế hoạch 2031 .PDF'],
    ['"quoted" <x>|?*.pdf', '_quoted_ _x____.pdf'],
  ])('keeps only a clean display name of %j', async (raw, expected) => {
    const res = await upload(`?filename=${encodeURIComponent(raw)}`, pdf);
    expect(res.status).toBe(201);
    const document = (await res.json()) as Document;
    expect(document.filename).toBe(expected);
    // eslint-disable-next-line no-control-regex -- no control character may reach a file name
    expect(document.filename).not.toMatch(/[/\\\u0000-\u001f]/);
    // Stored inside the documents folder under our id, nowhere else.
    expect(fs.existsSync(path.join(documentsDir, `${document.id}.pdf`))).toBe(true);
    const served = await fetch(`${server.url}/api/documents/${document.id}?token=${operator}`);
    const disposition = served.headers.get('content-disposition')!;
    expect(disposition).toMatch(/^inline; filename="[^"\r\n]*"; filename\*=UTF-8''[A-Za-z0-9%._~!-]+$/);
    await served.arrayBuffer();
  });

  it('shortens a very long name and keeps it a PDF', () => {
    const name = sanitizeFilename(`${'Báo cáo '.repeat(40)}.pdf`)!;
    expect([...name].length).toBeLessThanOrEqual(120);
    expect(name.endsWith('.pdf')).toBe(true);
  });

  it('never wrote anything outside the documents folder', () => {
    const everything = walk(server.config.dataDir);
    const outside = everything.filter(
      (f) => !f.startsWith(`documents${path.sep}`) && !f.startsWith(`store${path.sep}`) && !f.startsWith(`recordings${path.sep}`),
    );
    expect(outside).toEqual(['token-secret']);
    expect(files().every((f) => /^[a-f0-9]{24}\.pdf$/.test(f))).toBe(true);
    expect(everything.some((f) => f.includes('passwd') || f.includes('win.ini'))).toBe(false);
  });
});

describe('deleting and crashes', () => {
  it('deletes a document: its file, its record and its place in the agenda', async () => {
    const created = (await (await upload('?filename=xoa.pdf&agendaItem=ke-hoach', pdf)).json()) as Document;
    expect(server.sessions.get(sid).agenda.find((i) => i.id === 'ke-hoach')!.documentIds).toContain(created.id);
    const point = await tokenFor(server, sid, 'xa-1', 'point');
    expect((await fetch(`${server.url}/api/documents/${created.id}?token=${point}`, { method: 'DELETE' })).status).toBe(403);
    const res = await fetch(`${server.url}/api/documents/${created.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${operator}` },
    });
    expect(res.status).toBe(204);
    expect(fs.existsSync(path.join(documentsDir, `${created.id}.pdf`))).toBe(false);
    expect(server.sessions.get(sid).agenda.find((i) => i.id === 'ke-hoach')!.documentIds).not.toContain(created.id);
    expect((await fetch(`${server.url}/api/documents/${created.id}?token=${operator}`)).status).toBe(404);
    expect(
      (await fetch(`${server.url}/api/documents/${created.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${operator}` } }))
        .status,
    ).toBe(404);
  });

  it('sweeps half-written uploads left by a crash', () => {
    const leftover = path.join(documentsDir, '.0123456789abcdef01234567.999.tmp');
    fs.writeFileSync(leftover, '%PDF-half');
    new DocumentStore(server.store, server.config.dataDir);
    expect(fs.existsSync(leftover)).toBe(false);
  });

  it('writes uploads and deletions to the audit log', async () => {
    const entries = (await server.audit.read({ sessionId: sid })).filter((e) => e.actor === 'thu-ky');
    expect(entries.some((e) => e.action === 'document.upload' && e.details?.filename === 'Báo cáo quý 1.pdf')).toBe(true);
    expect(entries.some((e) => e.action === 'document.delete' && e.details?.filename === 'xoa.pdf')).toBe(true);
  });
});
