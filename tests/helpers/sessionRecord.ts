import { defaultTimeZone, type SessionRecord } from '../../protocol/index.js';

/**
 * A stored session as the schedule keeps it: scheduled, public, in the
 * province's time zone, nobody invited, created and last changed `at`;
 * `over` sets what a test is about.
 */
export function sessionRecord(id: string, at: number, over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id,
    title: id,
    timeZone: defaultTimeZone,
    agenda: [],
    invitedPoints: [],
    invitedGroups: [],
    public: true,
    status: 'scheduled',
    createdAt: at,
    updatedAt: at,
    ...over,
  };
}
