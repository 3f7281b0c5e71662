/**
 * What recording costs: CPU of the recorder's ffmpeg for one program on the
 * copy path (H.264 from the sender, only the audio re-encoded to AAC) and on
 * the re-encode path (a VP8 sender: the picture re-encoded to H.264), and how
 * long after the session ends the archive (VOD playlist, MP4, poster) is
 * complete.
 *
 * The program comes from ffmpeg test sources (640×360 25 fps ~1 Mbit/s +
 * Opus) through the SFU, as from a hardware encoder. CPU is read from
 * /proc/<pid>/stat over the window, in % of one core.
 *
 *   node --import tsx bench/recorderCost.ts [--seconds 20]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const load = <T>(p: string): Promise<T> => import(pathToFileURL(path.join(root, p)).href) as Promise<T>;

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' } }, strict: false });
const seconds = Number(values.seconds);
const ticksPerSecond = 100;

function cpuTicks(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function main(): Promise<void> {
  const { startServer } = await load<typeof import('../tests/helpers/server.js')>('tests/helpers/server.ts');
  const { feedRtp, feedAudioRtpParameters, feedVideoRtpParameters, feedVp8VideoRtpParameters } =
    await load<typeof import('../tests/helpers/ffmpeg.js')>('tests/helpers/ffmpeg.ts');
  const { waitFor } = await load<typeof import('../tests/helpers/rtp.js')>('tests/helpers/rtp.ts');
  const { recorderEncoderPid } = await load<typeof import('../tests/helpers/recorderEncoder.js')>('tests/helpers/recorderEncoder.ts');
  const rows: string[] = [];
  for (const codec of ['h264', 'vp8'] as const) {
    const server = await startServer({ workers: 1, autoRecord: true });
    try {
      const sid = `cost-${codec}`;
      await server.sessions.create({ id: sid, title: sid });
      const room = await server.sessions.room(sid);
      const studio = room.join({ identity: 'studio', name: 'Studio', role: 'studio', plain: true, rtpCapabilities: room.rtpCapabilities });
      const v = await room.createPlainTransport(studio, 'send');
      const a = await room.createPlainTransport(studio, 'send');
      const videoParams = codec === 'h264' ? feedVideoRtpParameters : feedVp8VideoRtpParameters;
      await room.produce(studio, v.id, 'video', videoParams, 'camera');
      await room.produce(studio, a.id, 'audio', feedAudioRtpParameters, 'mic');
      const feed = feedRtp({ videoPort: v.tuple.localPort, audioPort: a.tuple.localPort, codec });
      room.goLive();
      // The recorder's ffmpeg, found from outside: the one writing into the session's recording folder.
      const dir = server.recordings.dirFor(sid);
      await waitFor('the recorder to start', () => !!server.recordings.recorder(sid) && !!recorderEncoderPid(dir));
      const recorder = server.recordings.recorder(sid)!;
      await new Promise((r) => setTimeout(r, 5000));
      const pid = recorderEncoderPid(dir);
      if (!pid) throw new Error('the recorder has no encoder running');
      const t0 = cpuTicks(pid);
      const started = Date.now();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const cpu = ((cpuTicks(pid) - t0) / ticksPerSecond / ((Date.now() - started) / 1000)) * 100;
      const plan = recorder.currentPlan;
      const ended = Date.now();
      await room.end();
      await server.recordings.idle();
      const finalizeMs = Date.now() - ended;
      const meta = server.recordings.meta(sid)!;
      await feed.stop();
      rows.push(
        `| ${codec.toUpperCase()} sender | ${plan?.video} | ${cpu.toFixed(1)} % | ${meta.duration.toFixed(1)} s | ${finalizeMs} ms | ${meta.hasMp4 ? 'yes' : 'no'} |`,
      );
    } finally {
      await server.stop();
    }
  }
  console.log(`\nRecorder cost (${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} cores; CPU in % of one core over ${seconds} s)`);
  console.log('| program | video path | recorder ffmpeg CPU | archive length | archive complete after end | MP4 |');
  console.log('|---|---|---:|---:|---:|---|');
  for (const row of rows) console.log(row);
}

await main();
