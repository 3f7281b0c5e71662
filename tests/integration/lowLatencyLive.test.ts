/**
 * Live viewers of a session on air get Low-Latency HLS from the server: a
 * playlist of ~0.2 s parts that a player can hold open until the next part
 * exists, cut from the recorder's own encoder (the picture copied), as a
 * player over HTTP sees it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinPlain, type PlainParticipant } from '../helpers/plainPeer.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer } from '../helpers/server.js';

let server: Awaited<ReturnType<typeof startServer>>;
let studio: PlainParticipant;
const sid = 'll-live';
const url = (file: string) => `${server.url}/hls/${sid}/${file}`;

async function playlist(query = ''): Promise<string> {
  const res = await fetch(url(`ll.m3u8${query}`));
  expect(res.status).toBe(200);
  return res.text();
}

/** The last part listed, as the segment being made (its media sequence number) and its index in it. */
function lastPart(text: string): { msn: number; part: number; uri: string } {
  const lines = text.split('\n');
  let msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0) - 1;
  let part = -1;
  let uri = '';
  for (const line of lines) {
    if (line.startsWith('#EXT-X-PART:')) {
      part++;
      uri = /URI="([^"]+)"/.exec(line)![1];
    } else if (line && !line.startsWith('#')) {
      msn++;
      part = -1;
    }
  }
  // Parts after the last whole segment belong to the segment being made (part -1: none of it yet).
  return { msn: msn + 1, part, uri };
}

beforeAll(async () => {
  server = await startServer({ workers: 1, autoRecord: true });
  await server.sessions.create({ id: sid, title: 'Trực tiếp độ trễ thấp', public: true });
  const room = await server.sessions.room(sid);
  studio = await joinPlain(room, { identity: 'studio', role: 'studio', send: { keyframeSeconds: 1 } });
  room.goLive();
  await waitFor('parts listed', async () => (await fetch(url('ll.m3u8')).then((r) => r.text())).includes('#EXT-X-PART:'), 30_000);
}, 60_000);

afterAll(async () => {
  await studio?.stop();
  await server?.stop();
});

describe('Low-Latency HLS of a session on air', () => {
  it('lists parts no longer than its part target, with a preload hint and blocking reload', async () => {
    const text = await playlist();
    const target = Number(/#EXT-X-PART-INF:PART-TARGET=([\d.]+)/.exec(text)![1]);
    expect(target).toBeLessThanOrEqual(0.5);
    expect(text).toMatch(/#EXT-X-SERVER-CONTROL:.*CAN-BLOCK-RELOAD=YES/);
    expect(text).toMatch(/#EXT-X-PRELOAD-HINT:TYPE=PART/);
    expect(text).toMatch(/#EXT-X-MAP:URI="init-\d+\.mp4"/);
    for (const match of text.matchAll(/#EXT-X-PART:DURATION=([\d.]+)/g)) expect(Number(match[1])).toBeLessThanOrEqual(target + 0.001);
  });

  it('holds a request for the next part until it exists, then lists it', async () => {
    const { msn, part } = lastPart(await playlist());
    const started = Date.now();
    const next = await playlist(`?_HLS_msn=${msn}&_HLS_part=${part + 1}`);
    const after = lastPart(next);
    expect(after.msn > msn || after.part > part, `waited ${Date.now() - started} ms`).toBe(true);
  });

  it('refuses a request far beyond the live edge with the protocol’s JSON error', async () => {
    const { msn } = lastPart(await playlist());
    const res = await fetch(url(`ll.m3u8?_HLS_msn=${msn + 10}`));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('bad-request');
  });

  it('serves the init segment and parts that decode as H.264 and AAC', async () => {
    const text = await playlist();
    const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(text)![1];
    const parts = [...text.matchAll(/#EXT-X-PART:[^\n]*URI="([^"]+)"/g)].map((m) => m[1]).slice(-5);
    const bodies = [init, ...parts].map((file) =>
      fetch(url(file)).then(async (res) => {
        expect(res.status, file).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/video\/mp4/);
        return Buffer.from(await res.arrayBuffer());
      }),
    );
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'll-')), 'joined.mp4');
    fs.writeFileSync(file, Buffer.concat(await Promise.all(bodies)));
    const probe = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', file], { encoding: 'utf8' });
    expect(probe.stdout.trim().split('\n').sort()).toEqual(['aac', 'h264']);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  it('answers names it does not have with a 404, never a file outside the stream', async () => {
    for (const name of ['part-999999.m4s', 'init-0.mp4.tmp', '..%2Fmeta.json', 'seg-x.m4s']) {
      const res = await fetch(url(name));
      expect([400, 404], name).toContain(res.status);
    }
  });
});
