/**
 * The claims inside an invitation or role token. Tokens are JWTs signed by the
 * server (HS256); this module only describes what they carry.
 */
import { z } from 'zod';
import { identitySchema } from './messages.js';
import { roleSchema } from './roles.js';

export const tokenClaimsSchema = z.object({
  /** Session id the token admits to ('*' for operators of every session). */
  sid: z.string().min(1).max(128),
  sub: identitySchema,
  role: roleSchema,
  name: z.string().min(1).max(120),
  /** Invitation version of a registered point: raising it revokes older links. */
  ver: z.number().int().nonnegative().optional(),
});
export type TokenClaims = z.infer<typeof tokenClaimsSchema>;
