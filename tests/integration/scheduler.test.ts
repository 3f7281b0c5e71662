/**
 * Scheduled sessions open on time, close at their end, and cancelled ones
 * never open — with a clock the test moves by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../sfu/schedule/Scheduler.js';
import { startServer } from '../helpers/server.js';

let server: Awaited<ReturnType<typeof startServer>>;
let now = Date.parse('2026-12-01T08:00:00+07:00');
let scheduler: Scheduler;
const minute = 60_000;

beforeAll(async () => {
  server = await startServer({ workers: 1 });
  // The server's own scheduler follows the real clock; this one follows ours.
  server.scheduler.stop();
  scheduler = new Scheduler({ sessions: server.sessions, logger: server.logger, clock: () => now });
});

afterAll(async () => {
  await server?.stop();
});

describe('the scheduler', () => {
  it('puts a session on air at its start when the operator let it, and closes it at its end', async () => {
    await server.sessions.create({
      id: 'giao-ban',
      title: 'Giao ban tuần',
      startsAt: '2026-12-01T08:05:00+07:00',
      endsAt: '2026-12-01T09:00:00+07:00',
      autoOnAir: true,
    });
    await scheduler.tick();
    expect(server.sessions.get('giao-ban').status).toBe('scheduled');
    expect(await server.sessions.runningRoom('giao-ban')).toBeUndefined();

    now += 5 * minute;
    await scheduler.tick();
    const room = (await server.sessions.runningRoom('giao-ban'))!;
    expect(room.status).toBe('live');
    await expect.poll(() => server.sessions.get('giao-ban').status).toBe('live');

    now += 55 * minute;
    await scheduler.tick();
    expect(room.closed).toBe(true);
    await expect.poll(() => server.sessions.get('giao-ban').status).toBe('ended');
  });

  it('keeps a session on air when the operator extends it', async () => {
    now = Date.parse('2026-12-02T14:00:00+07:00');
    await server.sessions.create({ id: 'ky-hop', title: 'Kỳ họp', startsAt: now, endsAt: now + 30 * minute, autoOnAir: true });
    await scheduler.tick();
    now += 30 * minute;
    await server.sessions.update('ky-hop', (r) => ({ ...r, endsAt: r.endsAt! + 30 * minute }));
    await scheduler.tick();
    expect((await server.sessions.runningRoom('ky-hop'))?.status).toBe('live');
    now += 30 * minute;
    await scheduler.tick();
    await expect.poll(() => server.sessions.get('ky-hop').status).toBe('ended');
  });

  it('by default opens a session at its start in pre-show: on air waits for the studio, and an unused slot ends', async () => {
    now = Date.parse('2026-12-05T08:00:00+07:00');
    await server.sessions.create({ id: 'cho', title: 'Hội nghị chờ', startsAt: now + minute, endsAt: now + 60 * minute });
    now += minute;
    await scheduler.tick();
    const room = (await server.sessions.runningRoom('cho'))!;
    // Open for points to join and check; not on air.
    expect(room.status).toBe('waiting');
    await expect.poll(() => server.sessions.get('cho').status).toBe('waiting');
    await scheduler.tick();
    expect(room.status).toBe('waiting');
    // The operator lets the scheduler put it on air: the next look does.
    await server.sessions.update('cho', (r) => ({ ...r, autoOnAir: true }));
    await scheduler.tick();
    expect(room.status).toBe('live');
  });

  it('ends a session left in pre-show when its end comes', async () => {
    now = Date.parse('2026-12-06T08:00:00+07:00');
    await server.sessions.create({ id: 'bo-lo', title: 'Không ai phát', startsAt: now, endsAt: now + 30 * minute });
    await scheduler.tick();
    const room = (await server.sessions.runningRoom('bo-lo'))!;
    expect(room.status).toBe('waiting');
    now += 30 * minute;
    await scheduler.tick();
    expect(room.closed).toBe(true);
    await expect.poll(() => server.sessions.get('bo-lo').status).toBe('ended');
  });

  it('never opens a cancelled session', async () => {
    now = Date.parse('2026-12-03T08:00:00+07:00');
    await server.sessions.create({ id: 'huy', title: 'Đã hủy', startsAt: now + minute, endsAt: now + 60 * minute });
    await server.sessions.update('huy', (r) => ({ ...r, status: 'cancelled' }));
    now += 2 * minute;
    await scheduler.tick();
    expect(await server.sessions.runningRoom('huy')).toBeUndefined();
    expect(server.sessions.get('huy').status).toBe('cancelled');
    await expect(server.sessions.room('huy')).rejects.toMatchObject({ code: 'conflict' });
  });

  it('marks as ended a session whose whole slot passed while the server was down', async () => {
    now = Date.parse('2026-12-04T08:00:00+07:00');
    await server.sessions.create({ id: 'lo', title: 'Missed', startsAt: now - 120 * minute, endsAt: now - 60 * minute });
    await scheduler.tick();
    expect(server.sessions.get('lo').status).toBe('ended');
    expect(await server.sessions.runningRoom('lo')).toBeUndefined();
  });
});
