/**
 * Connection points and their groups as the points API (/api/points,
 * /api/groups) takes and returns them. The server's registry validates with
 * these schemas, its OpenAPI document is generated from them, and the
 * console's points page imports the same types.
 */
import { z } from 'zod';
import { identitySchema } from './messages.js';

export const groupKinds = ['district', 'organisation', 'other'] as const;
export const groupKindSchema = z.enum(groupKinds);
export type GroupKind = z.infer<typeof groupKindSchema>;

const text = (max: number) => z.string().trim().min(1).max(max);
/** Names go into token claims, whose name is at most 120 characters. */
const pointName = text(120);

// ---- What the API returns ---------------------------------------------------------------

/** A commune or ward meeting room, a Party committee: a place that joins sessions with an invitation link. */
export const pointSchema = z.object({
  id: z.string(),
  name: z.string(),
  district: z.string().optional(),
  organisation: z.string().optional(),
  groupIds: z.array(z.string()),
  disabled: z.boolean(),
  invitationVersion: z.number().int().meta({ description: 'Raised by a revocation: every link signed with an older version is refused' }),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Point = z.infer<typeof pointSchema>;

/** Points invited together: a district's communes, an organisation's offices. */
export const groupSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: groupKindSchema,
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Group = z.infer<typeof groupSchema>;

/** GET /api/groups/:id: the group and who is in it. */
export const groupDetailSchema = groupSchema.extend({ pointIds: z.array(z.string()).meta({ description: 'Its members' }) });
export type GroupDetail = z.infer<typeof groupDetailSchema>;

export const pointListSchema = z.object({ points: z.array(pointSchema) });
export const groupListSchema = z.object({ groups: z.array(groupSchema) });

// ---- What the API takes -----------------------------------------------------------------

export const pointInputSchema = z.object({
  id: identitySchema,
  name: pointName,
  district: text(120).optional(),
  organisation: text(200).optional(),
  groupIds: z.array(identitySchema).max(100).default([]),
  disabled: z.boolean().default(false),
});
export type PointInput = z.input<typeof pointInputSchema>;

/** Partial; null clears an optional field. */
export const pointPatchSchema = z.object({
  name: pointName.optional(),
  district: text(120).nullable().optional(),
  organisation: text(200).nullable().optional(),
  groupIds: z.array(identitySchema).max(100).optional(),
  disabled: z.boolean().optional(),
});
export type PointPatch = z.input<typeof pointPatchSchema>;

export const groupInputSchema = z.object({
  id: identitySchema,
  name: text(120),
  kind: groupKindSchema.default('other'),
});
export type GroupInput = z.input<typeof groupInputSchema>;

export const groupPatchSchema = z.object({
  name: text(120).optional(),
  kind: groupKindSchema.optional(),
});
export type GroupPatch = z.input<typeof groupPatchSchema>;
