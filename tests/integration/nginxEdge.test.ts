/**
 * The caching edge a province puts in front of /hls for its phones
 * (deploy/nginx/diemcau-edge.conf), run as shipped by Debian's nginx in front
 * of a real server recording a live session: the stream plays through it
 * (ffmpeg is the HLS client), a segment is fetched from the origin once and
 * then from the cache, many viewers asking at once for a new segment or a new
 * playlist cost the origin one request (counted in nginx's own log of where
 * each request was answered from), the live playlist stays fresh, and a
 * restricted session's files are never served to a request without a token.
 * /api and /ws pass through uncached, with X-Forwarded-For as
 * DIEMCAU_TRUST_PROXY expects.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { rawRequest } from '../helpers/attackClient.js';
import { readPlaylist } from '../helpers/hls.js';
import { processAlive, startNginx, type EdgeLogLine, type Nginx } from '../helpers/nginx.js';
import { joinPlain, type PlainParticipant } from '../helpers/plainPeer.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer, tokenFor } from '../helpers/server.js';

const sid = 'truc-tiep';
const restricted = 'noi-bo';
const archived = 'luu-tru';
const perMinute = 3;
const viewers = 20;

let server: Awaited<ReturnType<typeof startServer>>;
let edge: Nginx;
let studio: PlainParticipant | undefined;
let dir: string;

const livePlaylist = () => readPlaylist(path.join(dir, 'live.m3u8'));

/**
 * A recording as the recorder leaves it (as attackHttp.test.ts writes one), without a second encoder: a restricted
 * session's, live, and a public one finished long ago.
 */
function writeRecording(sessionId: string, status: 'recording' | 'complete', isPublic: boolean): void {
  const folder = path.join(server.config.dataDir, 'recordings', sessionId);
  fs.mkdirSync(folder, { recursive: true });
  const meta = { sessionId, title: sessionId, status, startedAt: Date.now(), duration: 2, public: isPublic };
  fs.writeFileSync(path.join(folder, 'meta.json'), JSON.stringify(meta));
  const playlist = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:2', '#EXTINF:2.000,', 'r0001-00001.ts', ''];
  if (status === 'complete') playlist.splice(-1, 0, '#EXT-X-ENDLIST');
  for (const name of ['live.m3u8', 'archive.m3u8']) fs.writeFileSync(path.join(folder, name), playlist.join('\n'));
  fs.writeFileSync(path.join(folder, 'r0001-00001.ts'), Buffer.alloc(188 * 100, 0x47));
}

interface Got {
  status: number;
  cache: string | null;
  cacheControl: string | null;
  body: Buffer;
}

async function get(uri: string, headers: Record<string, string> = {}): Promise<Got> {
  const res = await fetch(`${edge.url}${uri}`, { headers });
  return {
    status: res.status,
    cache: res.headers.get('x-cache-status'),
    cacheControl: res.headers.get('cache-control'),
    body: Buffer.from(await res.arrayBuffer()),
  };
}

/** The edge's log lines for a path (and LL-HLS part), once `count` of them are written (nginx logs after it answers). */
async function logged(uri: string, count: number, filter: (l: EdgeLogLine) => boolean = () => true): Promise<EdgeLogLine[]> {
  const lines = () => edge.accessLog().filter((l) => l.uri === uri && filter(l));
  await waitFor(`${count} log lines for ${uri}`, () => lines().length >= count);
  return lines();
}

const toOrigin = (lines: EdgeLogLine[]) => lines.filter((l) => l.upstream !== '-').length;

function tally(values: (string | null)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[String(v)] = (out[String(v)] ?? 0) + 1;
  return out;
}

/** Runs a program to its end without blocking the event loop (the origin lives in this process). */
function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  // The origin believes the edge (on 127.0.0.1) about who its clients are, as the README asks.
  server = await startServer({ workers: 1, autoRecord: true, trustProxy: ['127.0.0.1'], maxSignInPerMinute: perMinute });
  edge = await startNginx(server.url);
  writeRecording(restricted, 'recording', false);
  writeRecording(archived, 'complete', true);
  await server.sessions.create({ id: sid, title: 'Truyền hình trực tiếp', public: true });
  const room = await server.sessions.room(sid);
  studio = await joinPlain(room, { identity: 'studio', role: 'studio', send: {} });
  room.goLive();
  await waitFor('recording', () => room.snapshot().recording, 20_000);
  dir = server.recordings.dirFor(sid);
  await waitFor('three segments', () => livePlaylist().entries.length >= 3, 30_000);
}, 90_000);

afterAll(async () => {
  await studio?.stop();
  const pids = edge?.pids ?? [];
  await edge?.stop();
  await server?.stop();
  // No nginx of ours is left (a system nginx, if any, is not ours to look at).
  const left = pids.filter(processAlive);
  if (left.length) throw new Error(`nginx processes left behind: ${left.join(' ')}`);
}, 60_000);

describe('the live stream through the edge', () => {
  it('passes the live playlist with 1 s caching, and serves a segment from its cache after the first request', async () => {
    const playlist = await get(`/hls/${sid}/live.m3u8`);
    expect(playlist.status).toBe(200);
    expect(playlist.cacheControl).toBe('public, max-age=1');
    expect(playlist.cache).toBe('MISS');
    const first = readPlaylistText(playlist.body.toString('utf8'))[0];
    const uri = `/hls/${sid}/${first}`;
    const miss = await get(uri);
    expect(miss.status).toBe(200);
    expect(miss.cache).toBe('MISS');
    expect(miss.cacheControl).toBe('public, max-age=86400, immutable');
    expect(miss.body.equals(fs.readFileSync(path.join(dir, first)))).toBe(true);
    const hit = await get(uri);
    expect(hit.cache).toBe('HIT');
    expect(hit.body.equals(miss.body)).toBe(true);
    expect(toOrigin(await logged(uri, 2))).toBe(1);
  });

  it(`collapses ${viewers} viewers asking at once for a new segment into one origin request`, async () => {
    const newest = livePlaylist().entries.at(-1)!.file;
    const uri = `/hls/${sid}/${newest}`;
    const answers = await Promise.all(Array.from({ length: viewers }, () => get(uri)));
    const bytes = fs.readFileSync(path.join(dir, newest));
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.body.equals(bytes)).toBe(true);
    }
    const lines = await logged(uri, viewers);
    console.log(`${viewers} concurrent requests for ${newest}: ${JSON.stringify(tally(answers.map((a) => a.cache)))}`);
    expect(toOrigin(lines)).toBe(1);
  });

  it('collapses a new playlist (an LL-HLS blocking reload) the same way, and keys on the query string', async () => {
    const msn = String(livePlaylist().entries.length + 1000);
    const uri = `/hls/${sid}/live.m3u8`;
    const part0 = (l: EdgeLogLine) => l.msn === msn && l.part === '0';
    const answers = await Promise.all(Array.from({ length: viewers }, () => get(`${uri}?_HLS_msn=${msn}&_HLS_part=0`)));
    for (const a of answers) expect(a.status).toBe(200);
    expect(toOrigin(await logged(uri, viewers, part0))).toBe(1);
    // Another part is another playlist: new to the cache, whatever is cached for part 0.
    const part1 = await get(`${uri}?_HLS_msn=${msn}&_HLS_part=1`);
    expect(part1.cache).toBe('MISS');
  });

  it('keeps the live playlist fresh while bursts of viewers poll it, asking the origin at most once per burst', async () => {
    const uri = `/hls/${sid}/live.m3u8`;
    const plain = (l: EdgeLogLine) => l.msn === '-';
    const target = livePlaylist().entries.at(-1)!.file;
    let seenBefore = (await logged(uri, 1, plain)).length;
    const perBurst: number[] = [];
    let fresh = false;
    await waitFor(
      'the edge to list a segment written after the test began',
      async () => {
        const answers = await Promise.all(Array.from({ length: 10 }, () => get(uri)));
        const lines = await logged(uri, seenBefore + answers.length, plain);
        perBurst.push(toOrigin(lines.slice(seenBefore)));
        seenBefore = lines.length;
        const newestAtEdge = answers.map((a) => readPlaylistText(a.body.toString('utf8')).at(-1)!).sort();
        fresh = newestAtEdge.at(-1)! > target;
        return fresh && perBurst.some((n) => n === 1);
      },
      30_000,
    );
    console.log(`origin requests per burst of 10 playlist requests: ${perBurst.join(' ')}`);
    expect(Math.max(...perBurst)).toBeLessThanOrEqual(1);
  });

  it('is played by ffmpeg, a real HLS client, through the edge URL', async () => {
    const url = `${edge.url}/hls/${sid}/live.m3u8`;
    const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'json', url]);
    expect(probe.code, probe.stderr).toBe(0);
    const codecs = (JSON.parse(probe.stdout) as { streams: { codec_name: string }[] }).streams.map((s) => s.codec_name).sort();
    expect(codecs).toEqual(['aac', 'h264']);
    // Three seconds decoded, frame by frame (framemd5 lines: stream index, pts, …).
    const play = await run('ffmpeg', ['-v', 'error', '-nostdin', '-i', url, '-t', '3', '-f', 'framemd5', '-']);
    expect(play.code, play.stderr).toBe(0);
    const frames = play.stdout.split('\n').filter((l) => /^\s*\d+,/.test(l));
    const video = frames.filter((l) => l.trim().startsWith('0,')).length;
    const audio = frames.filter((l) => l.trim().startsWith('1,')).length;
    console.log(`ffmpeg through the edge decoded ${video} video and ${audio} audio frames in 3 s`);
    expect(video).toBeGreaterThanOrEqual(30);
    expect(audio).toBeGreaterThanOrEqual(50);
  });
});

describe('a finished public recording through the edge', () => {
  it('keeps its archive playlist 60 s, its segments a day', async () => {
    const archive = await get(`/hls/${archived}/archive.m3u8`);
    expect(archive.status).toBe(200);
    expect(archive.cacheControl).toBe('public, max-age=60');
    expect((await get(`/hls/${archived}/archive.m3u8`)).cache).toBe('HIT');
    expect((await get(`/hls/${archived}/r0001-00001.ts`)).cacheControl).toBe('public, max-age=86400, immutable');
  });
});

describe('a restricted session through the edge', () => {
  const playlistUri = `/hls/${restricted}/live.m3u8`;
  const segmentUri = `/hls/${restricted}/r0001-00001.ts`;

  it('answers a viewer with a token from the origin only, and a request without one with the origin’s 403, never a cached 200', async () => {
    const token = await tokenFor(server, restricted, 'xa-a', 'viewer');
    const withQuery = `${playlistUri}?token=${encodeURIComponent(token)}`;
    const bearer = { authorization: `Bearer ${token}` };
    // The attack: `%74oken` is `token` to the origin but not to nginx's $arg_token, so the edge
    // takes it for an anonymous request; the origin's `private, no-store` keeps it out of the cache.
    const disguised = `${playlistUri}?%74oken=${encodeURIComponent(token)}`;
    for (let round = 0; round < 2; round++) {
      const tokened = await Promise.all([get(withQuery), get(playlistUri, bearer), get(disguised), get(`${segmentUri}?token=${token}`)]);
      for (const a of tokened) {
        expect(a.status).toBe(200);
        expect(a.cacheControl).toBe('private, no-store');
      }
      expect(tokened.map((a) => a.cache)).toEqual(['BYPASS', 'BYPASS', 'MISS', 'BYPASS']);
      // The segments in a playlist asked for with ?token= carry it (a native player sends no headers).
      expect(tokened[0].body.toString('utf8')).toContain(`r0001-00001.ts?token=`);
      const anonymous = await Promise.all([...Array.from({ length: 5 }, () => get(playlistUri)), get(segmentUri)]);
      for (const a of anonymous) {
        expect(a.status).toBe(403);
        expect(a.cache).toBe('MISS');
        expect(a.cacheControl).toBe('no-store');
      }
    }
    // Every anonymous request was the origin's to answer.
    const anonymousLines = (await logged(playlistUri, 16)).filter((l) => l.status === 403);
    expect(anonymousLines).toHaveLength(10);
    expect(toOrigin(anonymousLines)).toBe(10);
  });
});

describe('everything else through the edge', () => {
  it('passes /api uncached', async () => {
    const res = await fetch(`${edge.url}/api/recordings`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-cache-status')).toBeNull();
    const ids = ((await res.json()) as { recordings: { sessionId: string }[] }).recordings.map((r) => r.sessionId);
    expect(ids).toContain(sid);
    expect(ids).not.toContain(restricted);
  });

  it('upgrades /ws to a WebSocket that reaches the signaling server', async () => {
    const socket = new WebSocket(`${edge.url.replace('http', 'ws')}/ws?token=garbage`);
    let opened = false;
    socket.on('open', () => (opened = true));
    const code = await new Promise<number>((resolve, reject) => {
      socket.once('close', (c) => resolve(c));
      socket.once('error', reject);
    });
    expect(opened).toBe(true);
    // The signaling server's own answer to a bad token, through the edge.
    expect(code).toBe(4401);
  });

  it('appends the client’s address to X-Forwarded-For: each phone has its own sign-in limit, a forged header escapes nothing', async () => {
    const signIn = (from: string, forged: string) =>
      rawRequest(edge.url, {
        method: 'POST',
        path: '/api/auth/sign-in',
        localAddress: from,
        headers: { 'content-type': 'application/json', 'x-forwarded-for': forged },
        body: JSON.stringify({ username: 'admin', password: 'khong-phai-mat-khau' }),
      }).then((r) => r.status);
    const attacker: number[] = [];
    for (let i = 0; i <= perMinute; i++) attacker.push(await signIn('127.0.0.2', `198.51.100.${i + 1}`));
    expect(attacker).toEqual([...Array<number>(perMinute).fill(401), 429]);
    // Another phone behind the same edge is not locked out.
    expect(await signIn('127.0.0.3', '198.51.100.1')).toBe(401);
  });
});

describe('the edge itself', () => {
  it('logged no error of its own (cache folder, temp files, upstream)', () => {
    expect(edge.errorLog()).not.toMatch(/\[(emerg|alert|crit|error)\]/);
  });
});

/** The media entries of a playlist's text, in order. */
function readPlaylistText(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}
