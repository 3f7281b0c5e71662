/**
 * Operator accounts as the accounts API (/api/accounts) and the sign-in API
 * (/api/auth) take and return them. The server validates bodies with these
 * schemas and generates its OpenAPI document from them; the console imports
 * the same types.
 */
import { z } from 'zod';
import { identityPattern, identitySchema } from './messages.js';
import { accountRoleSchema, roleSchema } from './roles.js';

/**
 * A sign-in name. It is also the account's identity in a session (the
 * control room joins under it), so it follows the identity rules.
 */
export const usernameSchema = z
  .string()
  .trim()
  .min(2)
  .max(64)
  .regex(identityPattern, 'letters, digits, dot, dash and underscore, not starting with a dot');

export const passwordSchema = z.string().min(10, 'at least 10 characters').max(200);

export const displayNameSchema = z.string().trim().min(1).max(120);

/** An account as listed: never its password hash. */
export const accountSchema = z.object({
  username: z.string(),
  displayName: z.string(),
  role: accountRoleSchema,
  disabled: z.boolean(),
  createdAt: z.number(),
  updatedAt: z.number(),
  /** The admin who created it (absent for the first admin). */
  createdBy: z.string().optional(),
});
export type Account = z.infer<typeof accountSchema>;

export const accountListSchema = z.object({ accounts: z.array(accountSchema) });

export const accountCreateSchema = z.object({
  username: usernameSchema,
  displayName: displayNameSchema,
  role: accountRoleSchema,
  /** Absent: the server generates one. Either way it is returned once, in the reply. */
  password: passwordSchema.optional(),
});
export type AccountCreate = z.infer<typeof accountCreateSchema>;

/** The reply to a creation: the only time the password is ever sent back. */
export const accountCreatedSchema = z.object({
  account: accountSchema,
  password: z.string(),
});
export type AccountCreated = z.infer<typeof accountCreatedSchema>;

/** A change by an admin; disabling or a new role ends every session of the account. */
export const accountPatchSchema = z
  .object({
    displayName: displayNameSchema,
    role: accountRoleSchema,
    disabled: z.boolean(),
  })
  .partial()
  .strict()
  .refine((patch) => Object.keys(patch).length > 0, { message: 'nothing to change' });
export type AccountPatch = z.infer<typeof accountPatchSchema>;

// ---- Signing in (/api/auth) ----------------------------------------------------------------

/** POST /api/auth/sign-in. Loose limits only: a wrong name and a wrong password are refused alike, with 401. */
export const signInSchema = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(200) });
export type SignIn = z.infer<typeof signInSchema>;

/** The reply to a sign-in: the token is also set as the HttpOnly cookie, and never handed out again. */
export const signedInSchema = z.object({ username: z.string(), displayName: z.string(), token: z.string() });
export type SignedIn = z.infer<typeof signedInSchema>;

/** POST /api/auth/password: the new password follows the same rule as an admin-set one. */
export const passwordChangeSchema = z.object({ current: z.string().min(1).max(200), next: passwordSchema });
export type PasswordChange = z.infer<typeof passwordChangeSchema>;

/** GET /api/auth/me: whom the token or cookie belongs to (never the token itself). */
export const tokenHolderSchema = z.object({
  username: z.string(),
  displayName: z.string(),
  role: roleSchema.meta({ description: 'The token role' }),
  accountRole: accountRoleSchema.optional().meta({ description: "An account's own sign-in only" }),
});
export type TokenHolder = z.infer<typeof tokenHolderSchema>;

/** POST /api/auth/session-token: a signed-in account's token for one session (the control room's socket). */
export const sessionTokenBodySchema = z.object({ sessionId: identitySchema });

export const sessionTokenSchema = z.object({ token: z.string() });
export type SessionToken = z.infer<typeof sessionTokenSchema>;
