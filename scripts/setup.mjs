#!/usr/bin/env node
/**
 * Brings a fresh clone to a runnable state, doing only what is missing:
 *   1. Debian packages: ffmpeg and srt-tools (srt-live-transmit, the SRT
 *      encoders' listener); with --test also chromium, redis-server and
 *      nginx (the caching edge's test runs its own; see below);
 *      and what the worker is built with when it must be built. As root they
 *      are installed with apt-get; otherwise the one sudo command that
 *      installs them is printed and setup stops;
 *   2. npm dependencies (npm ci), without mediasoup's worker download;
 *   3. the mediasoup worker: from the cache, else built from the sources the
 *      mediasoup npm package ships (scripts/build-mediasoup-worker.sh);
 *   4. the web app (vite build) when its sources changed.
 * Each step says how long it took. Plain Node with no dependencies: it runs
 * before node_modules exists.
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
const started = Date.now();
let stepStarted = started;
const timings = [];
/** Notes how long a step that did work took. */
const done = (step) => {
  const seconds = (Date.now() - stepStarted) / 1000;
  timings.push(`${step} ${seconds.toFixed(0)} s`);
  stepStarted = Date.now();
};

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...options });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

const installed = (pkg) => spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' }).stdout === 'install ok installed';

// ---- where the worker comes from ------------------------------------------------------
const recipe = path.join(root, 'scripts', 'build-mediasoup-worker.sh');
const recipeDir = path.join(root, 'scripts', 'mediasoup-worker');
/** The build recipe's fingerprint: the script and every file it copies in. */
function recipeHash() {
  const hash = createHash('sha256').update(fs.readFileSync(recipe));
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else hash.update(path.relative(recipeDir, p)).update(fs.readFileSync(p));
    }
  };
  walk(recipeDir);
  return hash.digest('hex').slice(0, 12);
}
const msVersion = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).dependencies.mediasoup;
const cacheRoot = process.env.DIEMCAU_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'diemcau');
const cachedWorker = path.join(cacheRoot, `mediasoup-worker-${msVersion}-${recipeHash()}`, 'mediasoup-worker');
const workerPath = path.join(root, 'node_modules', 'mediasoup', 'worker', 'out', 'Release', 'mediasoup-worker');
// A worker started without mediasoup's channel exits with 41 once all its libraries load.
const workerRuns = (bin) => fs.existsSync(bin) && spawnSync(bin, [], { stdio: 'ignore', env: {} }).status === 41;
const workerNeeded = !process.env.MEDIASOUP_WORKER_BIN && !workerRuns(workerPath);
const workerToBuild = workerNeeded && !workerRuns(cachedWorker);

// ---- 1. Debian packages ------------------------------------------------------------------
// srt-tools: srt-live-transmit receives SRT encoders and reports their link (RTT, loss, retransmissions).
const wanted = ['ffmpeg', 'srt-tools'];
// nginx: tests/integration/nginxEdge.test.ts runs its own nginx (own prefix, pid, port) from deploy/nginx/. On a
// systemd host Debian's package also enables and starts the system nginx on port 80 (the default site); the tests
// neither use nor touch it. In a container whose policy-rc.d forbids services, nothing starts.
if (forTests) wanted.push('chromium', 'redis-server', 'nginx');
if (workerToBuild) {
  const list = fs.readFileSync(path.join(recipeDir, 'debian-packages.txt'), 'utf8');
  wanted.push(...list.split('\n').filter((line) => line.trim() && !line.trim().startsWith('#')));
}
const missing = wanted.filter((pkg) => !installed(pkg));
if (missing.length) {
  const install = ['install', '-y', '--no-install-recommends', ...missing];
  if (process.getuid?.() !== 0) {
    fail(
      `Debian packages are missing, and installing them needs root. Run:\n\n` +
        `    sudo apt-get update && sudo apt-get ${install.join(' ')}\n\n` +
        `then run this command again.`,
    );
  }
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  // A new machine may have no package lists yet: update, then try again.
  if (spawnSync('apt-get', [...lock, ...install], { stdio: 'inherit', env }).status !== 0) {
    run('apt-get', [...lock, 'update'], { env });
    run('apt-get', [...lock, ...install], { env });
  }
  done('Debian packages');
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
  done('npm dependencies');
}

// ---- 3. mediasoup worker -----------------------------------------------------------------
const msDir = path.join(root, 'node_modules', 'mediasoup');
const msInstalled = JSON.parse(fs.readFileSync(path.join(msDir, 'package.json'), 'utf8')).version;
if (msInstalled !== msVersion) fail(`node_modules has mediasoup ${msInstalled}, package.json wants ${msVersion}`);
if (workerNeeded) {
  if (workerToBuild) {
    log(`building the mediasoup ${msVersion} worker from its sources (a few minutes, once per machine)`);
    run('bash', [recipe, msDir, cachedWorker]);
    if (!workerRuns(cachedWorker)) fail(`the built worker at ${cachedWorker} does not start`);
    done('worker build');
  } else {
    log(`mediasoup worker from cache: ${cachedWorker}`);
  }
  fs.mkdirSync(path.dirname(workerPath), { recursive: true });
  fs.copyFileSync(cachedWorker, workerPath);
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
  done('web app');
}
const total = ((Date.now() - started) / 1000).toFixed(0);
log(timings.length ? `ready in ${total} s (${timings.join(', ')})` : 'ready');
