import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../config/schema.js';
import type { Role } from '../../protocol/index.js';
import { createLogger } from '../../sfu/logger.js';
import { Server } from '../../sfu/Server.js';

/**
 * The config of a server on loopback with free ports, 2 media workers, no
 * demo data, logging warnings: the test servers' and the fan-out bench's, so
 * that the bench measures what the tests run.
 */
export function loopbackConfig(dataDir: string, overrides: Partial<Config> = {}): Config {
  return loadConfig(
    {},
    {
      host: '127.0.0.1',
      port: 0,
      announcedAddress: '127.0.0.1',
      rtcListenIp: '127.0.0.1',
      rtcBasePort: 0,
      rtmpPort: 0,
      rtmpsPort: 0,
      srtPorts: 'auto',
      workers: 2,
      demo: false,
      logLevel: 'warn',
      ...overrides,
      dataDir,
    },
  );
}

/** A whole Diemcau server on loopback with free ports and its own data folder. */
export async function startServer(overrides: Partial<Config> = {}): Promise<Server & { stop(): Promise<void> }> {
  // A data folder given by the test outlives the server (restart tests).
  const ownDataDir = !overrides.dataDir;
  const dataDir = overrides.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-test-'));
  const config = loopbackConfig(dataDir, { autoRecord: false, ...overrides });
  const server = await new Server(config, createLogger(process.env.TEST_LOG_LEVEL ?? 'warn')).start();
  let stopped = false;
  return Object.assign(server, {
    async stop() {
      const first = !stopped;
      stopped = true;
      await server.close();
      if (!first) return;
      if (ownDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

/** Mints a token for a role in a session. */
export function tokenFor(server: Server, sid: string, sub: string, role: Role, name = sub): Promise<string> {
  return server.tokens.sign({ sid, sub, role, name });
}
