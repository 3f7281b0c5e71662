/**
 * How long one roll call sample takes for N participants: a studio sends
 * (ffmpeg), `senders` points send too, and every point receives the program
 * over a plain RTP transport (so each has transports, producers and
 * consumers to read statistics from, like a browser). Prints the median and
 * the worst of `samples` samples for each N.
 *
 *   node --import tsx bench/rollcallSample.ts [--n 25,50,100] [--samples 10] [--senders 3]
 */
import { parseArgs } from 'node:util';
import { joinPlain, type PlainParticipant } from '../tests/helpers/plainPeer.js';
import { sleep } from '../tests/helpers/rtp.js';
import { startServer } from '../tests/helpers/server.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '25,50,100' },
    samples: { type: 'string', default: '10' },
    senders: { type: 'string', default: '3' },
  },
});
const sizes = values.n.split(',').map(Number);
const samples = Number(values.samples);
const senders = Number(values.senders);

const server = await startServer({ workers: 2 });
try {
  for (const n of sizes) {
    const sid = `bench-${n}`;
    await server.sessions.create({ id: sid, title: `roll call ${n}` });
    const room = await server.sessions.room(sid);
    const people: PlainParticipant[] = [await joinPlain(room, { identity: 'studio', role: 'studio', send: { pattern: 'testsrc' } })];
    for (let i = 0; i < n; i++) {
      people.push(
        await joinPlain(room, {
          identity: `p${i}`,
          role: 'point',
          receive: true,
          send: i < senders ? { pattern: 'smptebars' } : undefined,
        }),
      );
    }
    room.goLive();
    await room.settled();
    await sleep(3000);
    const tracker = server.rollCall;
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      await sleep(1600); // past the cache
      await tracker.rollCall(sid);
      times.push(tracker.lastSampleMs(sid)!);
    }
    times.sort((a, b) => a - b);
    const consumers = [...room.peers.values()].reduce((sum, p) => sum + p.consumers.size, 0);
    console.log(
      JSON.stringify({
        peers: n + 1,
        consumers,
        medianMs: +times[Math.floor(times.length / 2)].toFixed(1),
        maxMs: +times.at(-1)!.toFixed(1),
      }),
    );
    await room.end();
    await Promise.all(people.map((p) => p.stop()));
  }
} finally {
  await server.stop();
}
process.exit(0);
