import type { Store } from '../store/Store.js';

export interface AuditEntry {
  at: number;
  /** Who did it: an operator's name, a point's identity, or 'system' (scheduler, recorder). */
  actor: string;
  /** What happened, e.g. 'session.create', 'floor.give', 'recording.start', 'peer.join'. */
  action: string;
  sessionId?: string;
  /** What it was done to: a point, a document, a session. */
  target?: string;
  details?: Record<string, unknown>;
}

/** Who created or changed what, who joined, who got the floor — kept in the store, never edited. */
export class AuditLog {
  constructor(private readonly store: Store) {}

  async record(entry: Omit<AuditEntry, 'at'>): Promise<void> {
    await this.store.append<AuditEntry>('audit', { at: Date.now(), ...entry });
  }

  /** Newest last; optionally only one session's entries. */
  async read(options: { limit?: number; sessionId?: string } = {}): Promise<AuditEntry[]> {
    const entries = await this.store.readLog<AuditEntry>('audit', options.sessionId ? 100_000 : (options.limit ?? 1000));
    const filtered = options.sessionId ? entries.filter((e) => e.sessionId === options.sessionId) : entries;
    return filtered.slice(-(options.limit ?? 1000));
  }
}
