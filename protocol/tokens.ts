/**
 * The claims inside an invitation or role token. Tokens are JWTs signed by the
 * server (HS256); this module only describes what they carry.
 */
import { z } from 'zod';
import { identitySchema } from './messages.js';
import { accountRoleSchema, roleSchema } from './roles.js';

export const tokenClaimsSchema = z.object({
  /** Session id the token admits to ('*' for operators of every session). */
  sid: z.string().min(1).max(128),
  sub: identitySchema,
  role: roleSchema,
  name: z.string().min(1).max(120),
  /** Invitation version of a registered point: raising it revokes older links. */
  ver: z.number().int().nonnegative().optional(),
  /**
   * Token generation of an operator account (its sign-in and its own session
   * tokens): signing out, changing the password, and an admin disabling the
   * account or changing its role raise the account's generation, so every
   * token signed in before stops working.
   */
  gen: z.number().int().nonnegative().optional(),
  /**
   * The account's role (an account's sign-in token only, `sid: '*'`): adds
   * that role's grants (protocol/roles.ts) to the token role's permissions.
   */
  accountRole: accountRoleSchema.optional(),
});
export type TokenClaims = z.infer<typeof tokenClaimsSchema>;
