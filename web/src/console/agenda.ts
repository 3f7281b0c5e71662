import type { AgendaItem } from '@protocol';
import type { AgendaDraft } from './api';

/**
 * An agenda item while the operator edits it: the server's id once saved (so
 * its documents stay with it), and a key of its own so that a row keeps its
 * inputs (and the caret) when the operator moves it up or down.
 */
export interface AgendaRow {
  key: number;
  id?: string;
  title: string;
  presenter: string;
}

let keys = 0;

/** A row for a saved item, or an empty one for the operator to fill. */
export function agendaRow(item?: Pick<AgendaItem, 'id' | 'title' | 'presenter'>): AgendaRow {
  return { key: ++keys, id: item?.id, title: item?.title ?? '', presenter: item?.presenter ?? '' };
}

/** The rows as the server takes them: trimmed, without an empty presenter. */
export function agendaDrafts(rows: AgendaRow[]): AgendaDraft[] {
  return rows.map((r) => ({
    ...(r.id ? { id: r.id } : {}),
    title: r.title.trim(),
    ...(r.presenter.trim() ? { presenter: r.presenter.trim() } : {}),
  }));
}
