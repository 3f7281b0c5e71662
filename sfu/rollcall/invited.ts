import type { SessionRecord } from '../../protocol/index.js';
import type { PointRegistry } from '../registry/PointRegistry.js';
import type { Store } from '../store/Store.js';

/** The part of a stored connection point the roll call needs (sfu/registry keeps the rest). */
interface PointDoc {
  id: string;
  name: string;
  groupIds?: string[];
  deleted?: boolean;
  disabled?: boolean;
}

/**
 * Every point a session invites, directly or through one of its groups, with
 * the name the registry gives it (a point's identity in a session is its id).
 * Disabled points get no invitation link, so they are not counted. From the
 * point registry when there is one (the same list the invitations
 * are made from), else straight from the store.
 */
export async function invitedPoints(store: Store, record: SessionRecord, registry?: PointRegistry): Promise<Map<string, string>> {
  const invited = new Map<string, string>();
  if (record.invitedPoints.length === 0 && record.invitedGroups.length === 0) return invited;
  if (registry) {
    for (const point of registry.invited(record.invitedPoints, record.invitedGroups)) {
      if (!point.disabled) invited.set(point.id, point.name);
    }
    return invited;
  }
  const points = (await store.list<PointDoc>('points')).filter((p) => !p.deleted && !p.disabled);
  const byId = new Map(points.map((p) => [p.id, p]));
  for (const id of record.invitedPoints) {
    const point = byId.get(id);
    if (point) invited.set(id, point.name);
  }
  const groups = new Set(record.invitedGroups);
  for (const point of points) {
    if (!invited.has(point.id) && point.groupIds?.some((g) => groups.has(g))) invited.set(point.id, point.name);
  }
  return invited;
}
