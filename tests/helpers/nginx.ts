import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeTcpPort } from './freePort.js';

/** The caching edge a province copies into /etc/nginx/conf.d/. */
export const edgeConfigFile = fileURLToPath(new URL('../../deploy/nginx/diemcau-edge.conf', import.meta.url));

/** One line of the edge's access log (format `diemcau_edge`). */
export interface EdgeLogLine {
  method: string;
  uri: string;
  /** '-' when the request has none. */
  msn: string;
  part: string;
  personal: boolean;
  status: number;
  cache: string;
  /** The origin's address when the request went there, '-' when the cache answered. */
  upstream: string;
}

export interface Nginx {
  /** http://127.0.0.1:<port> */
  url: string;
  pid: number;
  /** The master and its workers, as they were once nginx answered. */
  pids: number[];
  dir: string;
  errorLog(): string;
  accessLog(): EdgeLogLine[];
  stop(): Promise<void>;
}

/** Replaces `from` in the text, which must hold it exactly once: the shipped file and the test stay in step. */
function replaceOnce(text: string, from: string, to: string): string {
  const count = text.split(from).length - 1;
  if (count !== 1) throw new Error(`the edge config should contain "${from}" once, found ${count}`);
  return text.replace(from, () => to);
}

/**
 * The shipped edge config as this test runs it: the upstream at the test
 * server, listening on loopback, cache and log in the test's folder. Nothing
 * else changes.
 */
export function templatedEdgeConfig(options: { origin: string; port: number; dir: string }): string {
  let text = fs.readFileSync(edgeConfigFile, 'utf8');
  text = replaceOnce(text, 'server 127.0.0.1:3000;', `server ${new URL(options.origin).host};`);
  text = replaceOnce(text, 'listen 80 default_server;', `listen 127.0.0.1:${options.port};`);
  text = replaceOnce(text, '/var/lib/nginx/diemcau-cache', path.join(options.dir, 'cache'));
  text = replaceOnce(text, '/var/log/nginx/diemcau-edge.log', path.join(options.dir, 'edge.log'));
  return text;
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export function parseEdgeLog(text: string): EdgeLogLine[] {
  const lines: EdgeLogLine[] = [];
  const pattern = /"(\S+) (\S+)" msn=(\S*) part=(\S*) skip=\S* personal=(\d) (\d+) \d+ cache=(\S+) upstream=(\S+) /;
  for (const line of text.split('\n')) {
    const m = pattern.exec(line);
    if (!m) continue;
    lines.push({
      method: m[1],
      uri: m[2],
      msn: m[3],
      part: m[4],
      personal: m[5] === '1',
      status: Number(m[6]),
      cache: m[7],
      upstream: m[8],
    });
  }
  return lines;
}

/**
 * Debian's nginx with the shipped edge config, in front of `origin`: its own
 * prefix, temp and cache folders in a tmp folder, pid file there, listening
 * on a free 127.0.0.1 port, in the foreground (the system's nginx, if any,
 * is neither used nor touched).
 */
export async function startNginx(origin: string): Promise<Nginx> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-nginx-'));
  // Run as root, nginx's workers are `nobody`: they must reach the cache folder nginx creates (and chowns) here.
  fs.chmodSync(dir, 0o755);
  const errorLog = path.join(dir, 'error.log');
  const mainConfig = path.join(dir, 'nginx.conf');
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freeTcpPort();
    fs.writeFileSync(path.join(dir, 'diemcau-edge.conf'), templatedEdgeConfig({ origin, port, dir }));
    fs.writeFileSync(
      mainConfig,
      [
        'daemon off;',
        'master_process on;',
        'worker_processes 1;',
        `pid ${path.join(dir, 'nginx.pid')};`,
        `error_log ${errorLog} warn;`,
        'events { worker_connections 1024; }',
        'http {',
        // What Debian's /etc/nginx/nginx.conf sets around conf.d/*.conf, but its logs and temp paths.
        '  include /etc/nginx/mime.types;',
        '  default_type application/octet-stream;',
        '  sendfile on;',
        '  tcp_nopush on;',
        '  access_log off;',
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(dir, t)};`),
        `  include ${path.join(dir, 'diemcau-edge.conf')};`,
        '}',
        '',
      ].join('\n'),
    );
    const check = await run('nginx', ['-t', '-q', '-p', dir, '-c', mainConfig, '-e', errorLog]).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new Error('nginx is not installed: run node scripts/setup.mjs --test') : error;
    });
    if (check.code !== 0) throw new Error(`nginx -t failed:\n${check.output}`);
    const child: ChildProcess = spawn('nginx', ['-p', dir, '-c', mainConfig, '-e', errorLog], { stdio: ['ignore', 'ignore', 'pipe'] });
    let exited = false;
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
    const url = `http://127.0.0.1:${port}`;
    // Ready when it answers (through to the origin); gone if it exited (a port taken meanwhile).
    const deadline = Date.now() + 15_000;
    let ready = false;
    while (!exited && !ready && Date.now() < deadline) {
      ready = await fetch(`${url}/api/health`).then(
        (r) => r.status > 0,
        () => false,
      );
      if (!ready) await new Promise((r) => setTimeout(r, 50));
    }
    if (!ready) {
      if (!exited) child.kill('SIGKILL');
      await exit;
      lastError = `${stderr}\n${fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8') : ''}`;
      if (/Address already in use/.test(lastError)) continue;
      throw new Error(`nginx did not start:\n${lastError}`);
    }
    const pid = child.pid!;
    const workers = (await run('pgrep', ['-P', String(pid)])).output.split('\n').filter(Boolean).map(Number);
    const pids = [pid, ...workers];
    return {
      url,
      pid,
      pids,
      dir,
      errorLog: () => fs.readFileSync(errorLog, 'utf8'),
      accessLog: () => parseEdgeLog(fs.existsSync(path.join(dir, 'edge.log')) ? fs.readFileSync(path.join(dir, 'edge.log'), 'utf8') : ''),
      async stop() {
        if (!exited) {
          // Graceful: workers finish what they serve, then the master leaves; killed if it lingers.
          child.kill('SIGQUIT');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exit;
          clearTimeout(timer);
        }
        for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  throw new Error(`nginx found no free port:\n${lastError}`);
}

export { alive as processAlive };
