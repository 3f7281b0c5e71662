/**
 * srt-live-transmit (Debian's srt-tools, libsrt's own sample application) is
 * the SRT listener: unlike ffmpeg 5.1's libsrt input it reports libsrt's
 * statistics (RTT, loss, retransmissions), which the operator sees.
 */
import fs from 'node:fs';
import path from 'node:path';

/** A statistics report every this many packets: ~0.1–1 s at an encoder's 1–10 Mbit/s. */
const statsEveryPackets = 100;

export interface TransmitterArgsOptions {
  host: string;
  port: number;
  passphrase: string;
  latencyMs: number;
  /** The named pipe for the statistics (StatsFifo); null for none. */
  statsPath: string | null;
}

/** Characters srt-live-transmit's URI parser takes as they are in a query value (it decodes no %-escapes). */
const uriSafe = /^[A-Za-z0-9._~+/:@!$*,;()'-]*$/;

/** Whether srt-live-transmit can be given `passphrase` in its listener URI. */
export function isUriSafe(passphrase: string): boolean {
  return uriSafe.test(passphrase);
}

export function transmitterArgs(o: TransmitterArgsOptions): string[] {
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  const query = [
    'mode=listener',
    // libsrt's own unit here: milliseconds.
    `latency=${Math.round(o.latencyMs)}`,
    'pbkeylen=16',
    `passphrase=${o.passphrase}`,
    // A caller without the passphrase is refused, not served in the clear.
    'enforcedencryption=true',
  ];
  // prettier-ignore
  return [
    // One caller per run: it exits when the caller leaves, and the listener starts the next run.
    '-autoreconnect:no',
    // warn: libsrt's handshake rejections (wrong or missing passphrase) are warnings.
    '-loglevel:warn',
    // Never without a file: it would print them to stdout, into the MPEG-TS.
    ...(o.statsPath ? [`-stats-report-frequency:${statsEveryPackets}`, '-statspf:json', `-statsout:${o.statsPath}`] : []),
    // (Like any argument, local users can read the passphrase in /proc/<pid>/cmdline.)
    `srt://${host}:${o.port}?${query.join('&')}`,
    'file://con',
  ];
}

/** srt-live-transmit has a caller. */
export function isAcceptedLine(line: string): boolean {
  return line === 'Accepted SRT source connection';
}

/** srt-live-transmit could not bind its port (`ERROR: error: srt_bind: Connection setup failure: ...`), in practice taken by another program. */
export function isBindFailure(line: string): boolean {
  return /srt_bind: /.test(line) || /Address already in use/i.test(line);
}

/** srt-live-transmit on the PATH, or null when srt-tools is not installed. */
export function findSrtLiveTransmit(pathVariable = process.env.PATH ?? ''): string | null {
  for (const dir of pathVariable.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, 'srt-live-transmit');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}
