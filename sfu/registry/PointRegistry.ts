import {
  groupInputSchema,
  groupPatchSchema,
  pointInputSchema,
  pointPatchSchema,
  type Group,
  type GroupInput,
  type GroupPatch,
  type Point,
  type PointInput,
  type PointPatch,
  type TokenClaims,
} from '../../protocol/index.js';
import { ConflictError, DiemcauError, NotFoundError, UnauthorizedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Store, Unsubscribe } from '../store/Store.js';

/**
 * What the store keeps: a deleted point stays as a tombstone so that its
 * version survives — links signed before the deletion never work again, not
 * even when a point with the same id is created later.
 */
type StoredPoint = Point & { deleted?: true };

const channel = { points: 'points', groups: 'groups' } as const;

/**
 * Connection points and groups, kept in the store (embedded or Redis) with a
 * copy here for the token check that runs on every request and socket. Other
 * nodes announce their changes on the store's bus; this node refreshes.
 */
export class PointRegistry {
  readonly #points = new Map<string, StoredPoint>();
  readonly #groups = new Map<string, Group>();
  readonly #unsubscribe: Unsubscribe[] = [];
  /** Announced changes of points still being read, by id: a token check of that point waits for its read. */
  readonly #pointReads = new Map<string, Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly logger?: Logger,
  ) {}

  async load(): Promise<void> {
    for (const p of await this.store.list<StoredPoint>('points')) this.#points.set(p.id, p);
    for (const g of await this.store.list<Group>('groups')) this.#groups.set(g.id, g);
    this.#unsubscribe.push(
      await this.store.subscribe(channel.points, (m) => void this.#refresh('points', m)),
      await this.store.subscribe(channel.groups, (m) => void this.#refresh('groups', m)),
    );
    // Changes announced while this node could not hear (Redis away) are read again once it is back.
    // A Redis that came back empty has lost the points: what this node knew (revocations) is kept.
    const stop = this.store.onRestored(({ emptied }) => void (emptied ? undefined : this.#reload()));
    this.#unsubscribe.push(async () => stop());
  }

  async #reload(): Promise<void> {
    try {
      const [points, groups] = await Promise.all([this.store.list<StoredPoint>('points'), this.store.list<Group>('groups')]);
      this.#points.clear();
      for (const p of points) this.#points.set(p.id, p);
      this.#groups.clear();
      for (const g of groups) this.#groups.set(g.id, g);
    } catch (error) {
      this.logger?.error({ err: error }, 'could not read the points again after Redis returned');
    }
  }

  async close(): Promise<void> {
    for (const u of this.#unsubscribe.splice(0)) await u();
  }

  #refresh(collection: 'points' | 'groups', message: unknown): Promise<void> {
    const id = (message as { id?: unknown } | null)?.id;
    if (typeof id !== 'string') return Promise.resolve();
    const read = this.#read(collection, id);
    if (collection === 'points') {
      // Set before any other listener of the channel runs (the signaling server rechecks that point's sockets).
      this.#pointReads.set(id, read);
      void read.finally(() => this.#pointReads.get(id) === read && this.#pointReads.delete(id));
    }
    return read;
  }

  async #read(collection: 'points' | 'groups', id: string): Promise<void> {
    try {
      if (collection === 'points') {
        const p = await this.store.get<StoredPoint>('points', id);
        if (p) this.#points.set(id, p);
        else this.#points.delete(id);
      } else {
        const g = await this.store.get<Group>('groups', id);
        if (g) this.#groups.set(id, g);
        else this.#groups.delete(id);
      }
    } catch (error) {
      this.logger?.error({ err: error, id }, `could not refresh ${collection}`);
    }
  }

  // ---- tokens ----------------------------------------------------------------

  /**
   * The token check (TokenService.check): a point's link works only while the
   * point is enabled and the link carries its current invitation version.
   * Identities that were never registered (ad hoc and demo links) pass.
   */
  async checkClaims(claims: TokenClaims): Promise<void> {
    if (claims.role !== 'point') return;
    // A revocation announced a moment ago is judged on the point as it now is, not as it was.
    await this.#pointReads.get(claims.sub);
    const point = this.#points.get(claims.sub);
    if (!point) return;
    if (point.deleted) throw new UnauthorizedError('this connection point was removed');
    if (point.disabled) throw new UnauthorizedError('this connection point is disabled');
    if (claims.ver !== point.invitationVersion) throw new UnauthorizedError('this invitation was revoked');
  }

  // ---- points ----------------------------------------------------------------

  listPoints(): Point[] {
    return [...this.#points.values()].filter((p) => !p.deleted).map(publicPoint);
  }

  findPoint(id: string): Point | undefined {
    const p = this.#points.get(id);
    return p && !p.deleted ? publicPoint(p) : undefined;
  }

  getPoint(id: string): Point {
    const p = this.findPoint(id);
    if (!p) throw new NotFoundError(`no connection point ${id}`);
    return p;
  }

  async createPoint(input: PointInput): Promise<Point> {
    const parsed = pointInputSchema.parse(input);
    this.#requireGroups(parsed.groupIds);
    const now = Date.now();
    let created: Point | undefined;
    await this.store.update<StoredPoint>('points', parsed.id, (current) => {
      if (current && !current.deleted) throw new ConflictError(`connection point ${parsed.id} already exists`);
      created = {
        id: parsed.id,
        name: parsed.name,
        ...(parsed.district ? { district: parsed.district } : {}),
        ...(parsed.organisation ? { organisation: parsed.organisation } : {}),
        groupIds: unique(parsed.groupIds),
        disabled: parsed.disabled,
        // A point created again under a deleted one's id does not revive the old links.
        invitationVersion: current ? current.invitationVersion + 1 : 0,
        createdAt: now,
        updatedAt: now,
      };
      return created;
    });
    await this.#saved(created!);
    return created!;
  }

  async updatePoint(id: string, patch: PointPatch): Promise<Point> {
    const parsed = pointPatchSchema.parse(patch);
    if (parsed.groupIds) this.#requireGroups(parsed.groupIds);
    return this.#changePoint(id, (p) => {
      const next: Point = { ...p };
      if (parsed.name !== undefined) next.name = parsed.name;
      if (parsed.district === null) delete next.district;
      else if (parsed.district !== undefined) next.district = parsed.district;
      if (parsed.organisation === null) delete next.organisation;
      else if (parsed.organisation !== undefined) next.organisation = parsed.organisation;
      if (parsed.groupIds) next.groupIds = unique(parsed.groupIds);
      if (parsed.disabled !== undefined) next.disabled = parsed.disabled;
      return next;
    });
  }

  /** Every link of the point signed so far stops working. */
  revokePoint(id: string): Promise<Point> {
    return this.#changePoint(id, (p) => ({ ...p, invitationVersion: p.invitationVersion + 1 }));
  }

  async deletePoint(id: string): Promise<Point> {
    const point = this.getPoint(id);
    let tombstone: StoredPoint | undefined;
    await this.store.update<StoredPoint>('points', id, (current) => {
      if (!current || current.deleted) throw new NotFoundError(`no connection point ${id}`);
      tombstone = { ...current, deleted: true, disabled: true, updatedAt: Date.now() };
      return tombstone;
    });
    this.#points.set(id, tombstone!);
    await this.store.publish(channel.points, { id });
    return point;
  }

  async #changePoint(id: string, change: (p: Point) => Point): Promise<Point> {
    this.getPoint(id);
    let changed: Point | undefined;
    await this.store.update<StoredPoint>('points', id, (current) => {
      if (!current || current.deleted) throw new NotFoundError(`no connection point ${id}`);
      changed = { ...change(publicPoint(current)), id, createdAt: current.createdAt, updatedAt: Date.now() };
      return changed;
    });
    await this.#saved(changed!);
    return changed!;
  }

  async #saved(point: Point): Promise<void> {
    this.#points.set(point.id, point);
    await this.store.publish(channel.points, { id: point.id });
  }

  // ---- groups ----------------------------------------------------------------

  listGroups(): Group[] {
    return [...this.#groups.values()];
  }

  findGroup(id: string): Group | undefined {
    return this.#groups.get(id);
  }

  getGroup(id: string): Group {
    const g = this.#groups.get(id);
    if (!g) throw new NotFoundError(`no group ${id}`);
    return g;
  }

  async createGroup(input: GroupInput): Promise<Group> {
    const parsed = groupInputSchema.parse(input);
    const now = Date.now();
    const group: Group = { id: parsed.id, name: parsed.name, kind: parsed.kind, createdAt: now, updatedAt: now };
    if (!(await this.store.insert('groups', group.id, group))) throw new ConflictError(`group ${group.id} already exists`);
    this.#groups.set(group.id, group);
    await this.store.publish(channel.groups, { id: group.id });
    return group;
  }

  async updateGroup(id: string, patch: GroupPatch): Promise<Group> {
    const parsed = groupPatchSchema.parse(patch);
    this.getGroup(id);
    const updated = await this.store.update<Group>('groups', id, (current) => {
      if (!current) throw new NotFoundError(`no group ${id}`);
      return {
        ...current,
        ...(parsed.name !== undefined ? { name: parsed.name } : {}),
        ...(parsed.kind !== undefined ? { kind: parsed.kind } : {}),
        updatedAt: Date.now(),
      };
    });
    this.#groups.set(id, updated!);
    await this.store.publish(channel.groups, { id });
    return updated!;
  }

  /** Deletes the group and takes it out of its members' groupIds. */
  async deleteGroup(id: string): Promise<Group> {
    const group = this.getGroup(id);
    await this.store.delete('groups', id);
    this.#groups.delete(id);
    await this.store.publish(channel.groups, { id });
    for (const point of this.listPoints()) {
      if (point.groupIds.includes(id)) await this.#changePoint(point.id, (p) => ({ ...p, groupIds: p.groupIds.filter((g) => g !== id) }));
    }
    return group;
  }

  /** Registered, not deleted members of a group. */
  members(groupId: string): Point[] {
    return this.listPoints().filter((p) => p.groupIds.includes(groupId));
  }

  /** The points a session invites: directly and through its groups, each once, in that order. */
  invited(pointIds: readonly string[], groupIds: readonly string[]): Point[] {
    const out = new Map<string, Point>();
    for (const id of pointIds) {
      const p = this.findPoint(id);
      if (p) out.set(p.id, p);
    }
    for (const g of groupIds) for (const p of this.members(g)) if (!out.has(p.id)) out.set(p.id, p);
    return [...out.values()];
  }

  /** Ids among these that are not registered points (for a 400 that names them). */
  unknownPoints(ids: readonly string[]): string[] {
    return unique(ids.filter((id) => !this.findPoint(id)));
  }

  unknownGroups(ids: readonly string[]): string[] {
    return unique(ids.filter((id) => !this.#groups.has(id)));
  }

  #requireGroups(ids: readonly string[]): void {
    const unknown = this.unknownGroups(ids);
    if (unknown.length) throw new DiemcauError('bad-request', `groupIds: unknown groups: ${unknown.join(', ')}`);
  }
}

function publicPoint(p: StoredPoint): Point {
  const { deleted: _deleted, ...point } = p;
  return point;
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}
