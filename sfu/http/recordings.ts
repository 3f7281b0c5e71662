import fs from 'node:fs';
import path from 'node:path';
import express, { type Request, type Response } from 'express';
import { allows, type TokenClaims } from '../../protocol/index.js';
import type { RecordingService } from '../../recorder/RecordingService.js';
import { sessionIdPattern } from '../../recorder/RecordingService.js';
import type { TokenService } from '../auth/TokenService.js';
import { LowLatencyClosedError, LowLatencyRequestError } from '../../recorder/lowLatency/errors.js';
import { parsePlaylistRequest } from '../../recorder/lowLatency/playlistRequest.js';
import { DiemcauError, ForbiddenError, NotFoundError } from '../errors.js';

/**
 * Only these names are ever served from a recording's folder: the two
 * playlists, the segments they list, chapters, poster and MP4 — never the
 * recorder's own run playlists, SDP files or journal.
 */
const servedFile = /^(live\.m3u8|archive\.m3u8|r\d{4}-\d{5}\.ts|chapters\.json|poster\.jpg|recording\.mp4)$/;

/** The Low-Latency HLS of a session on air, served from memory: its playlist, init segments, parts and segments. */
const lowLatencyFile = /^(ll\.m3u8|init-\d{1,9}\.mp4|seg-\d{1,9}\.m4s|part-\d{1,9}\.m4s)$/;

/**
 * A player that cannot send headers (Safari's own) follows the playlist's
 * relative segment links; a token given on the playlist is carried to them.
 */
function withTokenOnSegments(playlist: string, token: string): string {
  const query = `?token=${encodeURIComponent(token)}`;
  return playlist
    .split('\n')
    .map((line) => (line && !line.startsWith('#') ? line + query : line))
    .join('\n');
}

const contentTypes: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.ts': 'video/mp2t',
  '.jpg': 'image/jpeg',
  '.mp4': 'video/mp4',
  '.json': 'application/json',
};

async function claimsOf(req: Request, tokens: TokenService): Promise<TokenClaims | undefined> {
  const header = req.get('authorization');
  const token = header?.startsWith('Bearer ') ? header.slice(7) : typeof req.query.token === 'string' ? req.query.token : undefined;
  return token ? tokens.verify(token) : undefined;
}

const mayWatch = (claims: TokenClaims | undefined, sessionId: string) =>
  !!claims && (claims.sid === sessionId || (claims.sid === '*' && allows(claims, 'session.monitor')));

/**
 * The live stream and the archive: playlists, segments, poster, chapters and
 * the MP4 download, served from the recordings folder only. A public session
 * needs no token; a restricted one needs a token for that session.
 */
export function createRecordingRoutes(recordings: RecordingService, tokens: TokenService): express.Router {
  const router = express.Router();

  router.get('/api/recordings', async (req, res) => {
    const claims = await claimsOf(req, tokens);
    const visible = recordings.list().filter((m) => m.public || mayWatch(claims, m.sessionId));
    res.json({ recordings: visible.map((m) => ({ ...m, live: m.status === 'recording' })) });
  });

  router.get('/hls/:sid/:file', async (req: Request, res: Response) => {
    const sid = String(req.params.sid);
    const file = String(req.params.file);
    const lowLatency = lowLatencyFile.test(file);
    if (!sessionIdPattern.test(sid) || sid.startsWith('.') || (!servedFile.test(file) && !lowLatency)) {
      throw new NotFoundError('no such file');
    }
    const meta = recordings.meta(sid);
    if (!meta) throw new NotFoundError('no such recording');
    if (!meta.public && !mayWatch(await claimsOf(req, tokens), sid)) {
      throw new ForbiddenError('this session is restricted: a viewer token is needed');
    }
    if (lowLatency) {
      await sendLowLatency(recordings, sid, file, meta.public, req, res);
      return;
    }
    const ext = path.extname(file);
    res.type(contentTypes[ext] ?? 'application/octet-stream');
    // For caches (deploy/nginx/diemcau-edge.conf): a restricted session's files are never stored; live playlists change
    // every segment (a finished archive rarely); segments never change once listed.
    const changing = ext === '.m3u8' || ext === '.json';
    const settled = meta.status === 'complete' && file !== 'live.m3u8';
    res.set(
      'Cache-Control',
      !meta.public ? 'private, no-store' : !changing ? 'public, max-age=86400, immutable' : `public, max-age=${settled ? 60 : 1}`,
    );
    if (ext === '.mp4' && req.query.download !== undefined) res.attachment(`${sid}.mp4`);
    if (ext === '.m3u8' && !meta.public && typeof req.query.token === 'string') {
      const text = await fs.promises.readFile(path.join(recordings.dirFor(sid), file), 'utf8').catch(() => {
        throw new NotFoundError('no such file');
      });
      res.send(withTokenOnSegments(text, req.query.token));
      return;
    }
    await new Promise<void>((resolve, reject) =>
      res.sendFile(file, { root: recordings.dirFor(sid), dotfiles: 'deny' }, (error) => {
        if (!error) resolve();
        else reject((error as { status?: number }).status === 404 ? new NotFoundError('no such file') : error);
      }),
    );
  });

  // Errors (a bad token is a 401, an undecodable name a 400) go to the server's one error handler.
  return router;
}

/**
 * A Low-Latency HLS playlist (held until the part asked for with
 * `_HLS_msn`/`_HLS_part` exists, for a bounded time) or one of its files.
 * Names restart with the stream (a restarted server), so caches keep parts
 * a minute, not a day.
 */
async function sendLowLatency(recordings: RecordingService, sid: string, file: string, open: boolean, req: Request, res: Response) {
  const stream = recordings.lowLatency(sid);
  if (!stream || stream.closed) throw new NotFoundError('this session is not on air');
  const playlist = file === 'll.m3u8';
  try {
    const body = playlist ? await stream.playlist(parsePlaylistRequest(req.query)) : await stream.fileWhenReady(file);
    if (body === undefined) throw new NotFoundError('no such part');
    res.type(playlist ? contentTypes['.m3u8'] : 'video/mp4');
    res.set('Cache-Control', !open ? 'private, no-store' : playlist ? 'public, max-age=1' : 'public, max-age=60');
    res.send(body);
  } catch (error) {
    if (error instanceof LowLatencyRequestError) throw new DiemcauError('bad-request', error.message);
    if (error instanceof LowLatencyClosedError) throw new NotFoundError('this session is not on air');
    throw error;
  }
}
