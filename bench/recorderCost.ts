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
import { spawn } from 'node:child_process';
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

/** A VP8 + Opus RTP feed, for the path that has to re-encode the picture. */
function feedVp8(videoPort: number, audioPort: number) {
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-re',
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=640x360:rate=25',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=48000',
    '-map',
    '0:v',
    '-c:v',
    'libvpx',
    '-deadline',
    'realtime',
    '-cpu-used',
    '8',
    '-b:v',
    '1M',
    '-g',
    '50',
    '-payload_type',
    '102',
    '-ssrc',
    '33333333',
    '-f',
    'rtp',
    `rtp://127.0.0.1:${videoPort}?pkt_size=1200`,
    '-map',
    '1:a',
    '-c:a',
    'libopus',
    '-b:a',
    '64k',
    '-ac',
    '2',
    '-payload_type',
    '100',
    '-ssrc',
    '22222222',
    '-f',
    'rtp',
    `rtp://127.0.0.1:${audioPort}?pkt_size=1200`,
  ];
  const child = spawn('ffmpeg', args, { stdio: 'ignore' });
  return { stop: () => child.kill('SIGKILL') };
}

async function main(): Promise<void> {
  const { startServer } = await load<typeof import('../tests/helpers/server.js')>('tests/helpers/server.ts');
  const { feedRtp, feedAudioRtpParameters, feedVideoRtpParameters } =
    await load<typeof import('../tests/helpers/ffmpeg.js')>('tests/helpers/ffmpeg.ts');
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
      const videoParams =
        codec === 'h264'
          ? feedVideoRtpParameters
          : { codecs: [{ mimeType: 'video/VP8', clockRate: 90000, payloadType: 102 }], encodings: [{ ssrc: 33333333 }] };
      await room.produce(studio, v.id, 'video', videoParams, 'camera');
      await room.produce(studio, a.id, 'audio', feedAudioRtpParameters, 'mic');
      const feed =
        codec === 'h264'
          ? feedRtp({ videoPort: v.tuple.localPort, audioPort: a.tuple.localPort })
          : feedVp8(v.tuple.localPort, a.tuple.localPort);
      room.goLive();
      const recorder = await waitForRecorder(server, sid);
      await new Promise((r) => setTimeout(r, 5000));
      const pid = recorder.encoderPid!;
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

async function waitForRecorder(server: { recordings: { recorder(sid: string): { encoderPid?: number } | undefined } }, sid: string) {
  for (let i = 0; i < 100; i++) {
    const r = server.recordings.recorder(sid);
    if (r?.encoderPid) return r as import('../recorder/Recorder.js').Recorder;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('the recorder did not start');
}

await main();
