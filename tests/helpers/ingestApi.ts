import { expect } from 'vitest';
import type { SessionIngest } from '../../protocol/index.js';

/** An API request with a bearer token (none: anonymous), JSON in and out. */
export function apiFetch(baseUrl: string, path: string, token: string | undefined, init: RequestInit = {}): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(`${baseUrl}${path}`, { ...init, headers });
}

/** What the console reads of a session's encoder: its addresses, secrets and feeds (GET /api/sessions/:sid/ingest). */
export async function readIngest(baseUrl: string, sid: string, token: string): Promise<SessionIngest> {
  const res = await apiFetch(baseUrl, `/api/sessions/${sid}/ingest`, token);
  expect(res.status).toBe(200);
  return (await res.json()) as SessionIngest;
}
