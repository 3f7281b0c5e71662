import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './rtp.js';
import { freeTcpPort } from './freePort.js';

/**
 * How Redis keeps what it was told: `aof` is what the README asks a province
 * for (append-only file, synced before each reply, so a crash loses nothing
 * acknowledged); `none` is a Redis that comes back empty after a restart.
 */
export type RedisPersistence = 'aof' | 'none';

export interface RedisServer {
  url: string;
  port: number;
  persistence: RedisPersistence;
  /** Kills the running redis-server outright (SIGKILL), as a crash or the OOM killer would. */
  kill(): Promise<void>;
  /** Starts redis-server again on the same port and folder (after kill or stop). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const persistenceArgs: Record<RedisPersistence, string[]> = {
  aof: ['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
  none: ['--appendonly', 'no', '--save', ''],
};

/** Whether the process runs (a killed daemon nobody has reaped yet is a zombie: gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function accepting(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Debian's redis-server on a free loopback port, in its own folder, run the
 * way the README tells a province to run it (append-only file) unless the
 * test asks for a Redis without persistence; stopped by its pid.
 */
export async function startRedis(options: { persistence?: RedisPersistence } = {}): Promise<RedisServer> {
  const persistence = options.persistence ?? 'aof';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-redis-'));
  const port = await freeTcpPort();
  const pidfile = path.join(dir, 'redis.pid');
  let pid = 0;

  const launch = async () => {
    // A killed server leaves its pid file behind: the new one must not be mistaken for it.
    fs.rmSync(pidfile, { force: true });
    const started = spawnSync('redis-server', [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      ...persistenceArgs[persistence],
      '--daemonize',
      'yes',
      '--pidfile',
      pidfile,
      '--dir',
      dir,
      '--logfile',
      path.join(dir, 'redis.log'),
    ]);
    if (started.status !== 0) throw new Error(`redis-server did not start: ${started.stderr.toString()}`);
    await waitFor('redis pid file', () => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').trim() !== '', 20_000);
    pid = Number(fs.readFileSync(pidfile, 'utf8').trim());
    await waitFor('redis accepting connections', () => accepting(port), 20_000);
  };

  const terminate = async (signal: NodeJS.Signals) => {
    if (!pid || !alive(pid)) return;
    process.kill(pid, signal);
    await waitFor(`redis gone after ${signal}`, () => !alive(pid), 20_000).catch(() => process.kill(pid, 'SIGKILL'));
  };

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    persistence,
    kill: () => terminate('SIGKILL'),
    restart: launch,
    async stop() {
      await terminate('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
