/**
 * The OpenAPI document against the running server: it is valid OpenAPI 3.1,
 * it lists every route express serves under /api and /hls (and nothing
 * else), and every secured route admits exactly the credentials it says —
 * tokens of every role and scope, and the signed-in accounts of every
 * account role — an authorization matrix over the real HTTP API.
 */
import { compileErrors, validate } from '@readme/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expressRoutes, openApiDocument, openApiPath } from '../../sfu/http/openapi.js';
import { rawRequest } from '../helpers/attackClient.js';
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
