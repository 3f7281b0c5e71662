/**
 * Fan-out benchmark: one studio producer (ffmpeg, H.264 ~1 Mbit/s 640x360 25 fps
 * + Opus) forwarded to N receivers over SRTP PlainTransports, each receiving
 * the video and the audio (2 consumer streams per receiver).
 *
 * For each N, two setups run one after the other, each with its own ffmpeg:
 *   diemcau  the platform: Server + Room, 2 media workers, viewers spread
 *            over the workers by Room.join, producer piped with pipeToRouter,
 *            consumers made by the Room's reconcile once the session is live;
 *   bare     a minimal mediasoup script: 1 worker, 1 router, N consumers.
 *
 * The receiving UDP sockets live in a child process (fanout/receiverProcess.ts)
 * so that they do not share an event loop with mediasoup's
 * control channel; it counts RTP packets and sequence-number gaps per SSRC
 * (the RTP header is not encrypted under SRTP; RTCP is ignored).
 *
 * ffmpeg starts once every consumer exists. With --feed-first it starts
 * before (the platform's real order: the studio sends, then the session goes
 * live); a saturated worker then answers its control channel so slowly that
 * making the consumers can take minutes (see bench/README.md).
 *
 *   node --import tsx bench/fanout.ts [--n 50,100,200,400,800] [--seconds 10]
 *        [--only diemcau|bare] [--feed-first] [--json out.json] [--budget 540]
 *
 * Other programs on the machine disturb the figures: before each step the
 * bench waits for a quiet machine, and runs a disturbed step once more, within
 * --budget seconds for the whole fan-out bench.
 *
 * The parts, in bench/fanout/: receiverProcess (the sockets) and receiver
 * (its IPC client), diemcau and bare (the two setups), setup (what they
 * share), measure (one step's window), step (time limit, quiet machine,
 * closing), report (the tables), run (every N), proc and common (helpers).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runFanout } from './fanout/run.js';

// joinLatency.ts waits for a quiet machine the same way.
export { systemBusySeconds } from './fanout/proc.js';
export { waitQuiet } from './fanout/step.js';
export { printStep, printSummary } from './fanout/report.js';
export { runFanout } from './fanout/run.js';
export type { KindResult, StepResult } from './fanout/measure.js';
export type { SocketReport } from './fanout/receiverProcess.js';

const isMain = process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isMain) {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', default: '50,100,200,400,800' },
      seconds: { type: 'string', default: '10' },
      only: { type: 'string' },
      json: { type: 'string' },
      'feed-first': { type: 'boolean', default: false },
      budget: { type: 'string', default: '540' },
    },
    strict: false,
  });
  const ns = String(values.n)
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((x) => Number.isInteger(x) && x > 0);
  const only = values.only === 'diemcau' || values.only === 'bare' ? values.only : undefined;
  runFanout({
    ns,
    seconds: Number(values.seconds) || 10,
    only,
    json: values.json as string | undefined,
    feedFirst: !!values['feed-first'],
    budgetSeconds: Number(values.budget) || 540,
  })
    .then(() => process.exit(0))
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}
