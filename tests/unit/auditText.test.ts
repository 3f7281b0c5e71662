/**
 * The audit log reads as sentences in the operator's language: details
 * labelled and translated, objects by their titles — never "role: operator",
 * "reason: session ended" or "itemId: item-2" in the Vietnamese console.
 */
import { describe, expect, it } from 'vitest';
import { createI18n } from 'vue-i18n';
import { auditDetails, auditObject, type AuditLookups } from '../../web/src/console/auditText.js';
import en from '../../web/src/i18n/en.js';
import vi from '../../web/src/i18n/vi.js';

function lookups(locale: 'vi' | 'en'): AuditLookups {
  const i18n = createI18n({ legacy: false, locale, messages: { vi, en } });
  const messages = i18n.global;
  return {
    t: (key, values) => (values ? messages.t(key, values) : messages.t(key)),
    te: (key) => messages.te(key),
    sessionTitle: (id) => (id === 'giao-ban' ? 'Giao ban tuần' : undefined),
    agendaTitle: (sid, item) => (sid === 'giao-ban' && item === 'item-2' ? 'Báo cáo kinh tế' : undefined),
    pointName: (id) => (id === 'tan-phu' ? 'Xã Tân Phú' : undefined),
    dateTime: (ms) => new Date(ms).toISOString().slice(0, 16),
  };
}

/** Words of the server's own English that must not reach the Vietnamese console. */
const english = /\b(role|reason|operator|session ended|itemId|changes|protocol|true|false)\b/;

describe('the audit log in Vietnamese', () => {
  const l = lookups('vi');

  it('a departure: the role and the reason as Vietnamese words', () => {
    const text = auditDetails(
      {
        action: 'peer.leave',
        target: 'op',
        sessionId: 'giao-ban',
        details: { role: 'operator', name: 'Điều hành', reason: 'session ended' },
      },
      l,
    );
    expect(text).toBe('Vai trò: Điều hành · Tên: Điều hành · Lý do: phiên đã kết thúc');
    expect(text).not.toMatch(english);
  });

  it('an agenda item by its title, an edit by the fields it changed, a yes/no as words', () => {
    expect(auditDetails({ action: 'agenda.current', sessionId: 'giao-ban', details: { itemId: 'item-2' } }, l)).toBe(
      'Nội dung: Báo cáo kinh tế',
    );
    const edit = auditDetails(
      { action: 'session.update', sessionId: 'giao-ban', details: { changes: { title: 'x', invitedPoints: [] } } },
      l,
    );
    expect(edit).toBe('Đã sửa: tiêu đề, điểm cầu được mời');
    expect(auditDetails({ action: 'ingest.backup', details: { allow: true } }, l)).toBe('Cho phép: có');
    expect(auditDetails({ action: 'ingest.refused', details: { protocol: 'rtmp', reason: 'wrong or revoked stream key' } }, l)).not.toMatch(
      english,
    );
  });

  it('objects by their titles and names, ids only where nothing else is known', () => {
    expect(auditObject({ action: 'session.update', target: 'giao-ban', sessionId: 'giao-ban' }, l)).toBe('Giao ban tuần');
    expect(auditObject({ action: 'agenda.current', target: 'item-2', sessionId: 'giao-ban' }, l)).toBe('Báo cáo kinh tế');
    expect(auditObject({ action: 'point.revoke', target: 'tan-phu' }, l)).toBe('Xã Tân Phú');
    expect(auditObject({ action: 'peer.join', target: 'xa-b', details: { role: 'point', name: 'Xã B' } }, l)).toBe('Xã B');
    expect(auditObject({ action: 'webhook.delete', target: 'wh-1' }, l)).toBe('wh-1');
  });

  it('the same entries read in English in the English console', () => {
    const text = auditDetails({ action: 'peer.leave', details: { role: 'operator', reason: 'session ended' } }, lookups('en'));
    expect(text).toBe('Role: Operator · Reason: the session ended');
  });
});
