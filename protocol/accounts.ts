/**
 * Operator accounts as the accounts API (/api/accounts) takes and returns
 * them. The server validates bodies with these schemas and describes them in
 * its OpenAPI document; the console imports the same types.
 */
import { z } from 'zod';
import { identityPattern, identitySchema } from './messages.js';
import { accountRoleSchema } from './roles.js';

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

/** POST /api/auth/session-token: a signed-in account's token for one session (the control room's socket). */
export const sessionTokenBodySchema = z.object({ sessionId: identitySchema });
