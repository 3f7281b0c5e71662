#!/usr/bin/env node
/**
 * Brings a fresh clone to a runnable state, doing only what is missing:
 *   1. Debian packages the platform uses (ffmpeg; with --test also chromium
 *      and redis-server), installed with apt-get when running as root;
 *   2. npm dependencies (npm ci), without mediasoup's worker download;
 *   3. the mediasoup worker: from the cache, else built from the sources the
 *      mediasoup npm package ships (scripts/build-mediasoup-worker.sh);
 *   4. the web app (vite build) when its sources changed.
 * Plain Node with no dependencies: it runs before node_modules exists.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const forTests = process.argv.includes('--test');
const log = (msg) => console.log(`[setup] ${msg}`);
const fail = (msg) => {
  console.error(`[setup] ${msg}`);
  process.exit(1);
};

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...options });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

// ---- 1. Debian packages ------------------------------------------------------------
const wanted = [['ffmpeg', 'ffmpeg']];
if (forTests) wanted.push(['chromium', 'chromium'], ['redis-server', 'redis-server']);
const missing = wanted.filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg);
if (missing.length) {
  if (process.getuid?.() !== 0) fail(`please install: sudo apt-get install -y ${missing.join(' ')}`);
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '--no-install-recommends', ...missing];
  if (spawnSync('apt-get', install, { stdio: 'inherit', env }).status !== 0) {
    run('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'update'], { env });
    run('apt-get', install, { env });
  }
}

// ---- 2. npm dependencies ---------------------------------------------------------------
const lock = path.join(root, 'package-lock.json');
const installedLock = path.join(root, 'node_modules', '.package-lock.json');
const stale = !fs.existsSync(installedLock) || fs.statSync(installedLock).mtimeMs < fs.statSync(lock).mtimeMs;
if (stale) {
  log('installing npm dependencies');
  const env = { ...process.env };
  // mediasoup's postinstall downloads a prebuilt worker from GitHub, which an
  // offline machine cannot reach; we provide the worker ourselves (step 3).
  // With internet, DIEMCAU_WORKER_DOWNLOAD=1 lets mediasoup fetch its own.
  if (process.env.DIEMCAU_WORKER_DOWNLOAD !== '1') env.MEDIASOUP_WORKER_BIN ??= 'provided-by-diemcau-setup';
  run('npm', ['ci', '--no-audit', '--no-fund'], { env });
}

// ---- 3. mediasoup worker -----------------------------------------------------------------
const msDir = path.join(root, 'node_modules', 'mediasoup');
const msVersion = JSON.parse(fs.readFileSync(path.join(msDir, 'package.json'), 'utf8')).version;
const workerPath = path.join(msDir, 'worker', 'out', 'Release', 'mediasoup-worker');
// A worker started without mediasoup's channel exits with 41 once all its libraries load.
const workerRuns = (bin) => fs.existsSync(bin) && spawnSync(bin, [], { stdio: 'ignore', env: {} }).status === 41;

if (!process.env.MEDIASOUP_WORKER_BIN && !workerRuns(workerPath)) {
  const recipe = path.join(root, 'scripts', 'build-mediasoup-worker.sh');
  const recipeHash = createHash('sha256').update(fs.readFileSync(recipe)).digest('hex').slice(0, 12);
  const cacheRoot = process.env.DIEMCAU_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'diemcau');
  const cached = path.join(cacheRoot, `mediasoup-worker-${msVersion}-${recipeHash}`, 'mediasoup-worker');
  if (!workerRuns(cached)) {
    log(`building the mediasoup ${msVersion} worker from its sources (a few minutes, once per machine)`);
    run('bash', [recipe, msDir, cached]);
    if (!workerRuns(cached)) fail(`the built worker at ${cached} does not start`);
  } else {
    log(`mediasoup worker from cache: ${cached}`);
  }
  fs.mkdirSync(path.dirname(workerPath), { recursive: true });
  fs.copyFileSync(cached, workerPath);
  fs.chmodSync(workerPath, 0o755);
}

// ---- 4. web app ------------------------------------------------------------------------------
const dist = path.join(root, 'web', 'dist', 'index.html');
const newest = (dir) => {
  let t = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
};
const sourcesTime = Math.max(
  newest(path.join(root, 'web', 'src')),
  newest(path.join(root, 'protocol')),
  fs.statSync(path.join(root, 'web', 'index.html')).mtimeMs,
  fs.statSync(path.join(root, 'vite.config.ts')).mtimeMs,
);
if (!fs.existsSync(dist) || fs.statSync(dist).mtimeMs < sourcesTime) {
  log('building the web app');
  run(process.execPath, [path.join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn']);
}
log('ready');
