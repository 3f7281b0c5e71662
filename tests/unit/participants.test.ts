import { describe, expect, it } from 'vitest';
import { accountRoles, roleSchema } from '../../protocol/index.js';
import { countsAsParticipant, isStaffToken } from '../../sfu/rollcall/participants.js';

describe('who counts as a participant', () => {
  it('is the studio, a point and an invited member watching', () => {
    for (const role of ['studio', 'point', 'viewer'] as const) expect(countsAsParticipant({ role, staff: false }), role).toBe(true);
  });

  it('is never the control room: an operator link, or any console account whatever its token role', () => {
    expect(countsAsParticipant({ role: 'operator', staff: false })).toBe(false);
    for (const role of roleSchema.options) expect(countsAsParticipant({ role, staff: true }), role).toBe(false);
    // What each account role joins a session as (an observer as a viewer): none of them counts.
    for (const { tokenRole } of Object.values(accountRoles)) expect(countsAsParticipant({ role: tokenRole, staff: true })).toBe(false);
  });

  it("tells a console account's own token (it carries the account's generation) from an invitation", () => {
    expect(isStaffToken({ gen: 0 })).toBe(true);
    expect(isStaffToken({ gen: 3 })).toBe(true);
    expect(isStaffToken({})).toBe(false);
  });
});
