import { describe, expect, it } from 'vitest';
import { actions, can, permissions, roleSchema } from '../../protocol/index.js';
import { requiredAction } from '../../sfu/signaling/handlers.js';

describe('role permissions', () => {
  it('keeps floor control with the operator alone', () => {
    for (const role of roleSchema.options) {
      expect(can(role, 'floor.give')).toBe(role === 'operator');
      expect(can(role, 'floor.take')).toBe(role === 'operator');
      expect(can(role, 'peer.remove')).toBe(role === 'operator');
    }
  });

  it('keeps monitoring (roll call, attendance, audit) and webhooks with the operator alone', () => {
    for (const role of roleSchema.options) {
      expect(can(role, 'session.monitor')).toBe(role === 'operator');
      expect(can(role, 'webhooks.manage')).toBe(role === 'operator');
      expect(can(role, 'peer.mute')).toBe(role === 'operator');
    }
  });

  it('lets only the studio and points send media', () => {
    expect(roleSchema.options.filter((r) => can(r, 'media.send'))).toEqual(['studio', 'point']);
  });

  it('gives a viewer nothing but joining and receiving', () => {
    expect([...permissions.viewer].sort()).toEqual(['media.receive', 'session.join']);
  });

  it('names a known permission for every signaling method', () => {
    for (const action of Object.values(requiredAction)) expect(actions).toContain(action);
  });
});
