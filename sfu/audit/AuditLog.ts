import type { AuditEntry } from '../../protocol/index.js';
import type { Store } from '../store/Store.js';

export type { AuditEntry };

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
