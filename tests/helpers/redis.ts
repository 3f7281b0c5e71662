import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './rtp.js';

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Debian's redis-server on a free loopback port, without persistence, stopped by its pid. */
export async function startRedis(): Promise<RedisServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-redis-'));
  const port = await freePort();
  const pidfile = path.join(dir, 'redis.pid');
  const started = spawnSync('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
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
  await waitFor('redis pid file', () => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').trim() !== '');
  const pid = Number(fs.readFileSync(pidfile, 'utf8').trim());
  await waitFor('redis accepting connections', async () => {
    return new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await waitFor('redis stopped', () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      }).catch(() => process.kill(pid, 'SIGKILL'));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
