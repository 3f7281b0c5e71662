import { EventEmitter } from 'node:events';
import type { Server } from '../../sfu/Server.js';
import { EncoderFeed } from '../../sfu/ingest/EncoderFeed.js';
import { RtmpServer, type RtmpPublishRequest } from '../../sfu/ingest/rtmp/RtmpServer.js';
import type { RtmpLimits } from '../../sfu/ingest/rtmp/types.js';
import type { Logger } from '../../sfu/logger.js';

/**
 * An RTMP server on loopback wired as the ingest service wires it: a publish
 * to `live/<session>.<secret>` becomes the session's studio through an
 * EncoderFeed; anything else is refused (and kept in `refusals`).
 */
export interface RtmpFeeds {
  rtmp: RtmpServer;
  refusals: (RtmpPublishRequest & { reason: string })[];
  /** The next feed started for `sid`, or the reason it could not start (bounded). */
  next(sid: string, timeoutMs?: number): Promise<EncoderFeed>;
  close(): Promise<void>;
}

export async function startRtmpFeeds(
  server: Server,
  options: { secret: string; ffmpegPath: string; logger: Logger; limits?: Partial<RtmpLimits>; ladder?: () => boolean },
): Promise<RtmpFeeds> {
  const events = new EventEmitter<{ feed: [sid: string, feed: EncoderFeed]; failed: [sid: string, error: unknown] }>();
  const refusals: RtmpFeeds['refusals'] = [];
  const rtmp = await RtmpServer.listen({
    host: '127.0.0.1',
    port: 0,
    logger: options.logger,
    limits: options.limits,
    async authorize({ app, name }) {
      const dot = name.lastIndexOf('.');
      if (app !== 'live' || dot < 0 || name.slice(dot + 1) !== options.secret) return { ok: false, reason: 'wrong stream key' };
      return { ok: true, feedId: name.slice(0, dot) };
    },
  });
  rtmp.on('refused', (refusal) => refusals.push(refusal));
  rtmp.on('publish', (publisher) => {
    const sid = publisher.feedId;
    void (async () => {
      const room = await server.sessions.room(sid);
      const feed = await EncoderFeed.start({
        room,
        identity: 'encoder',
        name: 'Bàn phát sóng',
        flv: publisher.flv,
        ffmpegPath: options.ffmpegPath,
        logger: options.logger,
        ladder: options.ladder?.(),
      });
      feed.once('close', (reason) => publisher.close(reason));
      events.emit('feed', sid, feed);
    })().catch((error: unknown) => events.emit('failed', sid, error));
  });
  return {
    rtmp,
    refusals,
    next(sid, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`no feed for ${sid} within ${timeoutMs} ms`)), timeoutMs);
        const onFeed = (id: string, feed: EncoderFeed) => id === sid && done(undefined, feed);
        const onFailed = (id: string, error: unknown) => id === sid && done(error instanceof Error ? error : new Error(String(error)));
        const done = (error?: Error, feed?: EncoderFeed) => {
          clearTimeout(timer);
          events.off('feed', onFeed);
          events.off('failed', onFailed);
          if (error) reject(error);
          else resolve(feed!);
        };
        events.on('feed', onFeed);
        events.on('failed', onFailed);
      });
    },
    close: () => rtmp.close(),
  };
}
