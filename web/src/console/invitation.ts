import { tokenClaimsSchema, type TokenClaims } from '@protocol';

/**
 * What an invitation link's token says of itself: its session and role. Read,
 * not verified — the page cannot, and need not: the server checks the token on
 * every request. The page only uses it to choose where a link leads and which
 * buttons to show; a forged one gets refused buttons, nothing more.
 */
export function readToken(token: string): TokenClaims | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, '='));
    // Names are Vietnamese: the payload is UTF-8, not Latin-1.
    const json = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    const parsed = tokenClaimsSchema.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
