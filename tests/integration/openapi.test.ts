/**
 * The OpenAPI document against the running server: it is valid OpenAPI 3.1,
 * it lists every route express serves under /api and /hls (and nothing
 * else), and every secured route admits exactly the credentials it says —
 * tokens of every role and scope, and the signed-in accounts of every
 * account role — an authorization matrix over the real HTTP API.
 */
import { compileErrors, validate } from '@readme/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  accountCreateSchema,
  accountPatchSchema,
  agendaCurrentSchema,
  floorGiveSchema,
  groupInputSchema,
  groupPatchSchema,
  invitationRequestSchema,
  muteBodySchema,
  passwordChangeSchema,
  pointInputSchema,
  pointPatchSchema,
  sessionExtendSchema,
  sessionInputSchema,
  sessionPatchSchema,
  sessionTokenBodySchema,
  signInSchema,
  webhookInputSchema,
  studioChooseSchema,
  ingestRotateSchema,
  ingestBackupSchema,
} from '../../protocol/index.js';
import { openApiDocument, openApiPath } from '../../sfu/http/openapi.js';
import { rawRequest } from '../helpers/attackClient.js';
import { expressRoutes } from '../helpers/expressRoutes.js';
import { startServer } from '../helpers/server.js';

type Operation = {
  'x-diemcau-roles': string[] | 'anyone';
  'x-diemcau-accounts': string[] | 'anyone';
  'x-diemcau-access': 'public' | 'action' | 'all-sessions' | 'account' | 'token';
  'x-diemcau-all-sessions'?: boolean;
  requestBody?: { content: Record<string, unknown> };
};
type Doc = { paths: Record<string, Record<string, Operation>> };

let server: Awaited<ReturnType<typeof startServer>>;
const tokens: Record<string, string> = {};
const ids: Record<string, string> = { sid: 'oa', identity: 'xa-a', id: 'unknown' };
const samplePdf = new Blob(['%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n']);

const request = (method: string, path: string, token: string | undefined, body?: { type: string; data: string | Blob }) =>
  fetch(`${server.url}${path}`, {
    method: method.toUpperCase(),
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': body.type } : {}),
    },
    body: body?.data,
  });

beforeAll(async () => {
  server = await startServer({ workers: 1, adminPassword: 'mat-khau-quan-tri' });
  tokens.operator = await server.tokens.sign({ sid: '*', sub: 'chanh-vp', role: 'operator', name: 'Chánh văn phòng' });
  tokens.point = await server.tokens.sign({ sid: 'oa', sub: 'xa-a', role: 'point', name: 'Xã A' });
  tokens.viewer = await server.tokens.sign({ sid: 'oa', sub: 'dan', role: 'viewer', name: 'Người xem' });
  tokens.otherOperator = await server.tokens.sign({ sid: 'khac', sub: 'thu-ky-khac', role: 'operator', name: 'Thư ký khác' });
  tokens.sessionOperator = await server.tokens.sign({ sid: 'oa', sub: 'thu-ky', role: 'operator', name: 'Thư ký' });
  const json = { type: 'application/json', data: '' };
  const ok = async (res: Promise<Response>) => {
    const r = await res;
    expect(r.status, await r.clone().text()).toBeLessThan(300);
    return r.json() as Promise<{ id: string }>;
  };
  // Signed-in accounts of every account role: the first admin, and two the admin creates.
  const signIn = async (username: string, password: string) => {
    const res = await request('post', '/api/auth/sign-in', undefined, { ...json, data: JSON.stringify({ username, password }) });
    expect(res.status).toBe(200);
    return ((await res.json()) as { token: string }).token;
  };
  tokens.adminAccount = await signIn('admin', 'mat-khau-quan-tri');
  for (const role of ['operator', 'observer']) {
    const body = { username: `tk-${role}`, displayName: role, role, password: `mat-khau-${role}-dai` };
    await ok(request('post', '/api/accounts', tokens.adminAccount, { ...json, data: JSON.stringify(body) }));
    tokens[`${role}Account`] = await signIn(body.username, body.password);
  }
  await ok(request('post', '/api/sessions', tokens.operator, { ...json, data: JSON.stringify({ id: 'oa', title: 'Ma trận quyền' }) }));
  ids.pointId = (
    await ok(request('post', '/api/points', tokens.operator, { ...json, data: JSON.stringify({ id: 'p-1', name: 'Xã Một' }) }))
  ).id;
  ids.groupId = (
    await ok(request('post', '/api/groups', tokens.operator, { ...json, data: JSON.stringify({ id: 'g-1', name: 'Huyện Một' }) }))
  ).id;
  ids.documentId = (
    await ok(
      request('post', '/api/sessions/oa/documents?filename=bao-cao.pdf', tokens.operator, { type: 'application/pdf', data: samplePdf }),
    )
  ).id;
});

afterAll(async () => {
  await server?.stop();
});

/** A concrete URL for a documented path. */
function concrete(path: string): string {
  const id = path.startsWith('/api/points/')
    ? ids.pointId
    : path.startsWith('/api/groups/')
      ? ids.groupId
      : path.startsWith('/api/documents/')
        ? ids.documentId
        : ids.id;
  return path
    .replace('{sid}', ids.sid)
    .replace('{identity}', ids.identity)
    .replace('{id}', id)
    .replace('{username}', 'khong-co')
    .replace('{file}', 'live.m3u8');
}

describe('the OpenAPI document', () => {
  it('is served at /api/openapi.json and is valid OpenAPI 3.1', async () => {
    const res = await fetch(`${server.url}/api/openapi.json`);
    expect(res.status).toBe(200);
    const served = await res.json();
    expect(served).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
    expect(served.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(served));
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
    expect(result.warnings).toEqual([]);
    // The validator does find faults (it is not a no-op).
    const broken = structuredClone(served);
    broken.paths['/api/health'].get.responses = 'none';
    expect((await validate(broken)).valid).toBe(false);
  });

  it('describes request bodies from the zod schemas and both ways of signing in', () => {
    const doc = openApiDocument() as Doc & {
      components: { securitySchemes: Record<string, { type: string; in?: string; scheme?: string }> };
    };
    expect(doc.components.securitySchemes.operatorCookie).toMatchObject({ type: 'apiKey', in: 'cookie' });
    expect(doc.components.securitySchemes.bearerToken).toMatchObject({ type: 'http', scheme: 'bearer' });
    const body = (path: string, method: string) =>
      (
        doc.paths[path][method].requestBody!.content['application/json'] as {
          schema: { properties: Record<string, unknown>; required?: string[] };
        }
      ).schema;
    expect(Object.keys(body('/api/sessions', 'post').properties)).toEqual(
      expect.arrayContaining(['title', 'startsAt', 'agenda', 'invitedPoints', 'invitedGroups', 'timeZone', 'public']),
    );
    expect(body('/api/sessions', 'post').required).toContain('title');
    expect(body('/api/webhooks', 'post').properties.events).toMatchObject({ type: 'array' });
    expect(body('/api/sessions/{sid}/peers/{identity}/mute', 'post').required).toEqual(['muted']);
    expect(body('/api/points', 'post').required).toEqual(expect.arrayContaining(['id', 'name']));
    expect(Object.keys(doc.paths['/api/sessions/{sid}/documents'].post.requestBody!.content)).toEqual(['application/pdf']);
  });

  it('lists every route express serves under /api and /hls, and no other', () => {
    const served = expressRoutes(server.app)
      .filter((r) => r.path.startsWith('/api/') || r.path.startsWith('/hls/'))
      .map((r) => `${r.method.toUpperCase()} ${openApiPath(r.path)}`)
      .sort();
    const doc = openApiDocument() as Doc;
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    expect(served.length).toBeGreaterThan(40);
    expect(documented).toEqual(served);
  });
});

/** A credential the matrix tries on every route, and what it is. */
interface Credential {
  name: string;
  token: () => string | undefined;
  /** A token role and the session it is for ('*': every session); or an account's own sign-in. */
  as: { role: string; sid: string } | { account: string } | 'nobody';
}

const credentials: Credential[] = [
  { name: 'anonymous', token: () => undefined, as: 'nobody' },
  { name: 'a forged token', token: () => 'not-a-token', as: 'nobody' },
  { name: 'point', token: () => tokens.point, as: { role: 'point', sid: 'oa' } },
  { name: 'viewer', token: () => tokens.viewer, as: { role: 'viewer', sid: 'oa' } },
  { name: 'operator of another session', token: () => tokens.otherOperator, as: { role: 'operator', sid: 'khac' } },
  { name: 'operator of one session', token: () => tokens.sessionOperator, as: { role: 'operator', sid: 'oa' } },
  { name: 'observer account', token: () => tokens.observerAccount, as: { account: 'observer' } },
  { name: 'operator account', token: () => tokens.operatorAccount, as: { account: 'operator' } },
  { name: 'operator token for every session', token: () => tokens.operator, as: { role: 'operator', sid: '*' } },
  { name: 'admin account', token: () => tokens.adminAccount, as: { account: 'admin' } },
];

/** Whether the document says the route admits the credential. */
function admits(op: Operation, path: string, as: Credential['as']): boolean {
  if (as === 'nobody') return false;
  if ('account' in as) return (op['x-diemcau-accounts'] as string[]).includes(as.account);
  if (!(op['x-diemcau-roles'] as string[]).includes(as.role)) return false;
  if (op['x-diemcau-all-sessions']) return as.sid === '*';
  // A route acts on the session in its path, or on the session its document belongs to (oa).
  const acted = path.includes('{sid}') || path.startsWith('/api/documents/') ? ids.sid : undefined;
  return acted === undefined || as.sid === '*' || as.sid === acted;
}

describe('authorization matrix', () => {
  const doc = openApiDocument() as Doc;
  // Routes whose document says whom they admit (`token` routes admit whatever token the resource itself accepts).
  const securedRoutes = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([, op]) => op['x-diemcau-access'] !== 'public' && op['x-diemcau-access'] !== 'token')
      .map(([method, op]) => ({ method, path, op })),
  );
  const staffRoutes = securedRoutes.filter(
    ({ op }) => !(op['x-diemcau-roles'] as string[]).includes('point') && !(op['x-diemcau-roles'] as string[]).includes('viewer'),
  );

  it('covers the operator routes of every engineer', () => {
    const listed = staffRoutes.map((r) => `${r.method} ${r.path}`);
    expect(listed.length).toBeGreaterThanOrEqual(40);
    for (const route of [
      'get /api/sessions/{sid}/rollcall',
      'post /api/sessions/{sid}/peers/{identity}/mute',
      'get /api/audit',
      'post /api/webhooks',
      'post /api/points',
      'delete /api/groups/{id}',
      'post /api/sessions/{sid}/documents',
      'delete /api/documents/{id}',
      'get /api/calendar.ics',
      'put /api/sessions/{sid}/floor',
      'get /api/accounts',
      'post /api/accounts',
      'patch /api/accounts/{username}',
      'delete /api/accounts/{username}',
    ]) {
      expect(listed).toContain(route);
    }
    // Only an admin's own sign-in manages accounts: no token role does by itself.
    for (const r of securedRoutes.filter((r) => r.path.startsWith('/api/accounts'))) {
      expect(r.op['x-diemcau-accounts']).toEqual(['admin']);
      expect(r.op['x-diemcau-roles']).toEqual([]);
    }
  });

  // Those refused first: an admitted call may change what it acts on.
  it.each(securedRoutes.map((r) => [`${r.method.toUpperCase()} ${r.path}`, r] as const))(
    '%s: each credential admitted or refused as documented',
    async (_name, { method, path, op }) => {
      const url = concrete(path);
      const pdf = !!op.requestBody?.content['application/pdf'];
      const body = () =>
        pdf
          ? { type: 'application/pdf', data: samplePdf }
          : op.requestBody || method !== 'get'
            ? { type: 'application/json', data: '{}' }
            : undefined;
      // Each call on a connection of its own: a kept-alive one the server closes while idle would reset the next call.
      const status = async (token: string | undefined) => {
        const sent = body();
        const res = await rawRequest(server.url, {
          method: method.toUpperCase(),
          path: url,
          headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(sent ? { 'content-type': sent.type } : {}) },
          body: sent ? (typeof sent.data === 'string' ? sent.data : Buffer.from(await sent.data.arrayBuffer())) : undefined,
        });
        return res.status;
      };
      const ordered = [...credentials].sort((a, b) => Number(admits(op, path, a.as)) - Number(admits(op, path, b.as)));
      let admitted = 0;
      for (const credential of ordered) {
        const got = await status(credential.token());
        if (credential.as === 'nobody') expect(got, credential.name).toBe(401);
        else if (!admits(op, path, credential.as)) expect(got, credential.name).toBe(403);
        else {
          admitted++;
          expect([401, 403], `${credential.name} got ${got}`).not.toContain(got);
          expect(got, credential.name).toBeLessThan(500);
        }
      }
      expect(admitted, 'someone may call it').toBeGreaterThan(0);
    },
  );
});

/**
 * Every JSON body a route takes: the protocol schema the route parses it
 * with, a body it must accept and one it must refuse. Named here, apart from
 * openapi.ts, so that a route documented with a copy of its schema, or a
 * schema changed in protocol/ without the document following, fails.
 */
interface BodyCase {
  schema: z.ZodType;
  valid: unknown;
  invalid: unknown;
  /** Who sends it: the route's own kind of credential, so that the body is what the answer is about. */
  as: 'nobody' | 'operator' | 'adminAccount' | 'observerAccount';
}

const bodyCases: Record<string, BodyCase> = {
  'post /api/auth/sign-in': {
    schema: signInSchema,
    valid: { username: 'khong-co', password: 'sai-mat-khau' },
    invalid: { username: '', password: 'sai-mat-khau' },
    as: 'nobody',
  },
  'post /api/auth/password': {
    schema: passwordChangeSchema,
    valid: { current: 'khong-phai-mat-khau', next: 'mat-khau-moi-dai' },
    invalid: { current: 'mat-khau-observer-dai', next: 'ngan' },
    as: 'observerAccount',
  },
  'post /api/auth/session-token': {
    schema: sessionTokenBodySchema,
    valid: { sessionId: 'ob' },
    invalid: { sessionId: '../ob' },
    as: 'observerAccount',
  },
  'post /api/accounts': {
    schema: accountCreateSchema,
    valid: { username: 'tk-moi', displayName: 'Thư ký mới', role: 'observer' },
    invalid: { username: 'tk-moi-2', displayName: 'Thư ký', role: 'root' },
    as: 'adminAccount',
  },
  'patch /api/accounts/{username}': { schema: accountPatchSchema, valid: { displayName: 'Tên mới' }, invalid: {}, as: 'adminAccount' },
  'post /api/points': {
    schema: pointInputSchema,
    valid: { id: 'p-2', name: 'Xã Hai' },
    invalid: { id: '.an', name: 'Xã Ẩn' },
    as: 'operator',
  },
  'patch /api/points/{id}': { schema: pointPatchSchema, valid: { district: null }, invalid: { name: '   ' }, as: 'operator' },
  'post /api/groups': {
    schema: groupInputSchema,
    valid: { id: 'g-2', name: 'Huyện Hai', kind: 'district' },
    invalid: { id: 'g-3', name: 'Tỉnh', kind: 'province' },
    as: 'operator',
  },
  'patch /api/groups/{id}': { schema: groupPatchSchema, valid: { kind: 'district' }, invalid: { kind: 'province' }, as: 'operator' },
  'post /api/sessions': {
    schema: sessionInputSchema,
    valid: { title: 'Giao ban tháng', startsAt: '2030-01-07T08:00:00+07:00', endsAt: '2030-01-07T10:00:00+07:00' },
    invalid: { title: 'Giao ban tháng', timeZone: 'Mars/Olympus' },
    as: 'operator',
  },
  'patch /api/sessions/{sid}': {
    schema: sessionPatchSchema,
    valid: { description: null, timeZone: 'Asia/Bangkok' },
    invalid: { startsAt: 'sáng mai' },
    as: 'operator',
  },
  'post /api/sessions/{sid}/extend': { schema: sessionExtendSchema, valid: { minutes: 30 }, invalid: { minutes: 0 }, as: 'operator' },
  'post /api/sessions/{sid}/invitations': {
    schema: invitationRequestSchema,
    valid: { role: 'viewer', identity: 'dan', name: 'Người xem' },
    invalid: { role: 'admin', identity: 'dan', name: 'Người xem' },
    as: 'operator',
  },
  'put /api/sessions/{sid}/agenda/current': { schema: agendaCurrentSchema, valid: { itemId: null }, invalid: {}, as: 'operator' },
  'put /api/sessions/{sid}/floor': { schema: floorGiveSchema, valid: { identity: 'xa-a' }, invalid: { identity: '' }, as: 'operator' },
  'put /api/sessions/{sid}/studio': { schema: studioChooseSchema, valid: { identity: null }, invalid: { identity: '' }, as: 'operator' },
  'post /api/sessions/{sid}/ingest/rotate': {
    schema: ingestRotateSchema,
    valid: { protocol: 'srt' },
    invalid: { protocol: 'ftp' },
    as: 'operator',
  },
  'put /api/sessions/{sid}/ingest/backup': {
    schema: ingestBackupSchema,
    valid: { allow: false },
    invalid: { allow: 'yes' },
    as: 'operator',
  },
  'post /api/sessions/{sid}/peers/{identity}/mute': {
    schema: muteBodySchema,
    valid: { muted: true },
    invalid: { muted: 'yes' },
    as: 'operator',
  },
  'post /api/webhooks': {
    schema: webhookInputSchema,
    valid: { url: 'https://hooks.example.org/diemcau', secret: '0123456789abcdef', events: ['recording.ready'] },
    invalid: { url: 'ftp://hooks.example.org/diemcau', secret: '0123456789abcdef', events: ['recording.ready'] },
    as: 'operator',
  },
};

describe('request bodies: one schema for the route and the document', () => {
  type JsonOperation = { requestBody?: { content: Record<string, { schema: unknown }> } };
  let served: { paths: Record<string, Record<string, JsonOperation>> };

  beforeAll(async () => {
    served = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as typeof served;
    // A session of its own: the matrix above may have ended or cancelled the first one.
    const res = await request('post', '/api/sessions', tokens.operator, {
      type: 'application/json',
      data: JSON.stringify({ id: 'ob', title: 'Hợp đồng API' }),
    });
    expect(res.status).toBe(201);
  });

  const jsonBodies = () =>
    Object.entries(served.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op.requestBody?.content['application/json'])
        .map(([method, op]) => ({ route: `${method} ${path}`, schema: op.requestBody!.content['application/json'].schema })),
    );

  it('names every route that takes JSON, and no other', () => {
    expect(
      jsonBodies()
        .map((b) => b.route)
        .sort(),
    ).toEqual(Object.keys(bodyCases).sort());
  });

  it.each(Object.entries(bodyCases))(
    '%s: documented as the protocol schema, which accepts and refuses as the route does',
    async (route, c) => {
      // The document says exactly what the protocol schema says, as a client sends it.
      const { $schema: _drop, ...expected } = z.toJSONSchema(c.schema, { io: 'input', target: 'draft-2020-12' });
      expect(jsonBodies().find((b) => b.route === route)?.schema).toEqual(expected);

      // The samples mean what they say to the schema…
      expect(c.schema.safeParse(c.valid).error).toBeUndefined();
      expect(c.schema.safeParse(c.invalid).success).toBe(false);

      // …and to the route, which parses with that schema: the refusal is the body's, the valid one gets past it.
      const [method, template] = route.split(' ');
      const token = c.as === 'nobody' ? undefined : tokens[c.as];
      const send = (body: unknown) =>
        rawRequest(server.url, {
          method: method.toUpperCase(),
          path: concrete(template).replace(/\/sessions\/oa(?=\/|$)/, '/sessions/ob'),
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify(body),
        });
      const refused = await send(c.invalid);
      expect(refused.status, refused.body).toBe(400);
      expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'bad-request' } });
      const accepted = await send(c.valid);
      expect(accepted.status, accepted.body).not.toBe(400);
      expect(accepted.status, accepted.body).toBeLessThan(500);
    },
  );
});
