import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface ServerProcess {
  child: ChildProcess;
  /** Where it serves, once running. */
  url: string;
  /** The newest part of what it printed. */
  output(): string;
}

/**
 * The real server (`sfu/main.ts`) in its own process, as a province runs it,
 * on loopback with free ports and its own data folder; resolves once it
 * serves (or rejects with what it printed if it exits first).
 */
export async function startServerProcess(options: {
  dataDir: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
}): Promise<ServerProcess> {
  const root = path.resolve(import.meta.dirname, '..', '..');
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', path.join(root, 'sfu', 'main.ts')], {
    cwd: root,
    env: {
      ...process.env,
      PORT: '0',
      DIEMCAU_HOST: '127.0.0.1',
      DIEMCAU_ANNOUNCED_ADDRESS: '127.0.0.1',
      DIEMCAU_RTC_LISTEN_IP: '127.0.0.1',
      DIEMCAU_RTC_PORT: '0',
      DIEMCAU_DATA_DIR: options.dataDir,
      DIEMCAU_DEMO: 'false',
      DIEMCAU_ADMIN_PASSWORD: 'a-password-for-tests',
      // The running line (info) carries the URL.
      LOG_LEVEL: 'info',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-20_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const url = await new Promise<string>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`the server did not start: ${output.slice(-1500)}`)), 60_000);
    const look = () => {
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output);
      if (!match) return;
      clearTimeout(deadline);
      child.stdout.off('data', look);
      resolve(match[1]);
    };
    child.stdout.on('data', look);
    child.once('exit', () => {
      clearTimeout(deadline);
      reject(new Error(`the server exited: ${output.slice(-1500)}`));
    });
  });
  return { child, url, output: () => output };
}
