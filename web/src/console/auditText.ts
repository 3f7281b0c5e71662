/**
 * The audit log in the operator's language: an entry's details as labelled
 * values ("Vai trò: Điều hành · Lý do: phiên đã kết thúc"), its object as a
 * title ("Giao ban tuần", "Xã Tân Phú") rather than an id. Pure: the page
 * gives the translations and what it knows of sessions and points.
 */

export interface AuditTextEntry {
  action: string;
  target?: string;
  sessionId?: string;
  details?: Record<string, unknown>;
}

export interface AuditLookups {
  /** t() and te() of vue-i18n. */
  t: (key: string, values?: Record<string, unknown>) => string;
  te: (key: string) => boolean;
  sessionTitle: (id: string) => string | undefined;
  agendaTitle: (sessionId: string, itemId: string) => string | undefined;
  pointName: (id: string) => string | undefined;
  dateTime: (ms: number) => string;
}

const prefix = 'console.audit';

/** A translation when there is one, else null. */
function maybe(l: AuditLookups, key: string, values?: Record<string, unknown>): string | null {
  return l.te(key) ? l.t(key, values) : null;
}

/** What a recorded reason says, in the operator's language when the server's wording is known. */
export function reasonText(reason: string, l: AuditLookups): string {
  const key = reason
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');
  return maybe(l, `${prefix}.reasons.${key}`) ?? reason;
}

function roleText(role: string, l: AuditLookups): string {
  return maybe(l, `roles.${role}`) ?? maybe(l, `console.accounts.roles.${role}`) ?? role;
}

/** One detail's value as the operator reads it, or null to leave it out. */
function valueText(key: string, value: unknown, entry: AuditTextEntry, l: AuditLookups): string | null {
  if (value === undefined || value === null) return null;
  // Scalars as text; objects only where a case below knows their shape.
  const raw = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
  switch (key) {
    case 'role':
      return roleText(raw, l);
    case 'from':
    case 'to':
      return entry.action === 'account.role' ? roleText(raw, l) : raw;
    case 'reason':
      return reasonText(raw, l);
    case 'itemId':
    case 'agendaItemId':
      return (entry.sessionId && l.agendaTitle(entry.sessionId, raw)) || raw;
    case 'protocol':
      return raw.toUpperCase();
    case 'startsAt':
    case 'endsAt':
      return typeof value === 'number' ? l.dateTime(value) : null;
    case 'minutes':
      return l.t(`${prefix}.minutes`, { n: value });
    case 'size':
      return typeof value === 'number' ? l.t(`${prefix}.kilobytes`, { n: Math.max(1, Math.round(value / 1024)) }) : null;
    case 'kind':
      return maybe(l, `console.groups.kinds.${raw}`) ?? raw;
    case 'changes':
      // The fields an edit changed, by their names in the form.
      return value && typeof value === 'object'
        ? Object.keys(value)
            .map((field) => maybe(l, `${prefix}.fields.${field}`) ?? field)
            .join(', ')
        : null;
    case 'events':
      return Array.isArray(value) ? value.join(', ') : null;
    default:
      if (typeof value === 'boolean') return l.t(value ? `${prefix}.yes` : `${prefix}.no`);
      return raw || null;
  }
}

/** The details of an entry, each labelled in the operator's language. */
export function auditDetails(entry: AuditTextEntry, l: AuditLookups): string {
  if (!entry.details) return '';
  return Object.entries(entry.details)
    .flatMap(([key, value]) => {
      const text = valueText(key, value, entry, l);
      if (text === null || text === '') return [];
      const label = maybe(l, `${prefix}.keys.${key}`);
      return [label ? `${label}: ${text}` : text];
    })
    .join(' · ');
}

/** What an entry acted on, by its title or name where the page knows it. */
export function auditObject(entry: AuditTextEntry, l: AuditLookups): string {
  const target = entry.target;
  if (!target) return '';
  if (entry.action.startsWith('session.') && target === entry.sessionId) return l.sessionTitle(target) ?? target;
  if (entry.action.startsWith('agenda.') && entry.sessionId) return l.agendaTitle(entry.sessionId, target) ?? target;
  const named = entry.details?.name ?? entry.details?.filename;
  if (typeof named === 'string' && named) return named;
  return l.pointName(target) ?? l.sessionTitle(target) ?? target;
}
