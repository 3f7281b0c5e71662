/**
 * The OpenAPI document against the running server: it is valid OpenAPI 3.1,
 * it lists every route express serves under /api and /hls (and nothing
 * else), and every route it says is for operators refuses everyone else —
 * an authorization matrix over the real HTTP API.
 */
import { compileErrors, validate } from '@readme/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expressRoutes, openApiDocument, openApiPath } from '../../sfu/http/openapi.js';
import { startServer } from '../helpers/server.js';

type Operation = {
  'x-diemcau-roles': string[] | 'anyone';
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
  server = await startServer({ workers: 1 });
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
  return path.replace('{sid}', ids.sid).replace('{identity}', ids.identity).replace('{id}', id).replace('{file}', 'live.m3u8');
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

describe('authorization matrix', () => {
  const doc = openApiDocument() as Doc;
  const operatorRoutes = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(
        ([, op]) =>
          Array.isArray(op['x-diemcau-roles']) && !op['x-diemcau-roles'].includes('point') && !op['x-diemcau-roles'].includes('viewer'),
      )
      .map(([method, op]) => ({ method, path, op })),
  );

  it('covers the operator routes of every engineer', () => {
    const listed = operatorRoutes.map((r) => `${r.method} ${r.path}`);
    expect(listed.length).toBeGreaterThanOrEqual(35);
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
    ]) {
      expect(listed).toContain(route);
    }
  });

  // Everyone else first: the operator's call may change what it acts on.
  it.each(operatorRoutes.map((r) => [`${r.method.toUpperCase()} ${r.path}`, r] as const))(
    '%s: anonymous 401, point and viewer 403, operator allowed',
    async (_name, { method, path, op }) => {
      const url = concrete(path);
      const pdf = !!op.requestBody?.content['application/pdf'];
      const body = () =>
        pdf
          ? { type: 'application/pdf', data: samplePdf }
          : op.requestBody || method !== 'get'
            ? { type: 'application/json', data: '{}' }
            : undefined;
      const status = async (token: string | undefined) => {
        const res = await request(method, url, token, body());
        await res.arrayBuffer();
        return res.status;
      };
      expect(await status(undefined), 'anonymous').toBe(401);
      expect(await status('not-a-token'), 'a forged token').toBe(401);
      expect(await status(tokens.point), 'point').toBe(403);
      expect(await status(tokens.viewer), 'viewer').toBe(403);
      if (op['x-diemcau-all-sessions']) expect(await status(tokens.sessionOperator), 'operator of one session').toBe(403);
      if (path.includes('{sid}')) expect(await status(tokens.otherOperator), 'operator of another session').toBe(403);
      const operator = await status(tokens.operator);
      expect([401, 403], `operator got ${operator}`).not.toContain(operator);
      expect(operator, 'operator').toBeLessThan(500);
    },
  );
});
