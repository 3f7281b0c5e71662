import { spawn, type ChildProcess } from 'node:child_process';

/**
 * The broadcast desk's encoder, played by ffmpeg: a test picture (640×360,
 * 25 fps, H.264) and a tone (AAC) pushed to an RTMP or SRT address, as OBS
 * or a hardware encoder would.
 */
export interface EncoderPush {
  process: ChildProcess;
  /** Resolves with ffmpeg's exit code when it ends (refused, cut off, or stopped). */
  exited: Promise<number | null>;
  /** The last lines ffmpeg wrote (why it was refused). */
  stderr(): string;
  stop(): Promise<void>;
}

export interface EncoderPushOptions {
  /** x264's B-frames (2) instead of its zero-latency tuning; ignored with `video`. */
  bFrames?: boolean;
  /** The container: FLV for RTMP, MPEG-TS for SRT by default. */
  format?: 'flv' | 'mpegts';
  /**
   * x264's options in place of the default ones (ultrafast, a keyframe a
   * second, zero latency or `bFrames`), e.g. a longer keyframe interval.
   */
  video?: string[];
}

export function pushEncoder(target: string, options: EncoderPushOptions = {}): EncoderPush {
  const format = options.format ?? (target.startsWith('srt:') ? 'mpegts' : 'flv');
  const video = options.video ?? ['-preset', 'ultrafast', '-g', '25', ...(options.bFrames ? ['-bf', '2'] : ['-tune', 'zerolatency'])];
  // prettier-ignore
  const args = [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', ...video, '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '96k',
    '-f', format, target,
  ];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    // No ffmpeg to start: an exit code of -1, and why in stderr().
    child.once('error', (error) => {
      stderr += `\nspawn error: ${error.message}`;
      resolve(-1);
    });
  });
  return {
    process: child,
    exited,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
