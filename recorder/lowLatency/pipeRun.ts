import type { Readable } from 'node:stream';
import { Fmp4Reader, type Fmp4ReaderOptions } from './fmp4.js';
import type { LowLatencyStream } from './LowLatencyStream.js';

/**
 * Feeds one encoder run's fragmented-MP4 pipe (ffmpeg's stdout) into the
 * stream: its init segment opens a run, each fragment follows, the pipe's
 * end closes the run. Resolves when the pipe ends; rejects with the
 * Fmp4Error of unreadable bytes — and then keeps draining the pipe, since a
 * full pipe would stall ffmpeg and with it the archive it writes beside.
 */
export interface PipeRunOptions extends Fmp4ReaderOptions {
  /**
   * When the run's first picture reached the recorder (ms), once known: the
   * run's program date-time starts there, as the archive's does. ffmpeg
   * writes its first fragments only after probing the input, so their arrival
   * would date the whole run too late by that long.
   */
  startedAt?: () => number | undefined;
}

export function pipeRun(stream: LowLatencyStream, source: Readable, options: PipeRunOptions = {}): Promise<void> {
  const reader = new Fmp4Reader(options);
  return new Promise<void>((resolve, reject) => {
    let failed = false;
    let run: number | undefined;
    const end = () => {
      if (run !== undefined && !stream.closed) stream.endRun(run);
    };
    const onData = (chunk: Buffer) => {
      if (failed || stream.closed) return;
      try {
        const at = Date.now();
        for (const item of reader.push(chunk)) {
          if (item.type === 'init') run = stream.beginRun(item.init, options.startedAt);
          else stream.push(run!, item.fragment, at);
        }
      } catch (error) {
        failed = true;
        end();
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    };
    const onEnd = () => {
      end();
      resolve();
    };
    source.on('data', onData);
    source.once('end', onEnd);
    source.once('close', onEnd);
    source.once('error', (error) => {
      failed = true;
      end();
      reject(error);
    });
  });
}
