/**
 * The duel's load client, run as its own process (forked by LoadClient in
 * loadClientHandle.ts) so that its CPU is measured apart from the SFU's: N
 * werift viewers of one SFU (Janus or Diemcau), opened a few at a time, each
 * counting its RTP packets and sequence gaps per SSRC. Talks over IPC.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { SequenceCounter, lostOf, type StreamCount } from './sequenceCounter.js';

export const loadRequestSchema = z.discriminatedUnion('type', [
  z.object({
    id: z.number(),
    type: z.literal('open'),
    sfu: z.enum(['janus', 'diemcau']),
    /** Janus's HTTP API and mountpoint. */
    janus: z.object({ url: z.string(), mountpointId: z.number().int() }).optional(),
    /** Diemcau's signaling URL and one token per viewer. */
    diemcau: z.object({ url: z.string(), tokens: z.array(z.string()), announcedAddress: z.string().optional() }).optional(),
    count: z.number().int().min(1).max(1000),
    /** Viewers joining at the same time. */
    concurrency: z.number().int().min(1).max(100),
    rtx: z.boolean(),
    transportCc: z.boolean(),
    localAddress: z.string().optional(),
  }),
  z.object({ id: z.number(), type: z.literal('mark') }),
  z.object({ id: z.number(), type: z.literal('report') }),
  z.object({ id: z.number(), type: z.literal('close') }),
]);
export type LoadRequest = z.infer<typeof loadRequestSchema>;

/** One kind of one receiver since the mark: its main stream (the SSRC with most packets). */
export interface KindCount {
  packets: number;
  expected: number;
}

export interface OpenResult {
  joinMs: number[];
  failures: string[];
  negotiated?: { rtx: boolean; transportCc: boolean };
}

export interface LoadReport {
  at: number;
  receivers: { video: KindCount; audio: KindCount }[];
}

/** The main stream of a kind: padding or probing on other SSRCs is not the program. */
function mainStream(counts: StreamCount[]): KindCount {
  const main = counts.reduce<StreamCount | undefined>((best, c) => (!best || c.packets > best.packets ? c : best), undefined);
  if (!main) return { packets: 0, expected: 0 };
  const { packets, expected } = lostOf([main]);
  return { packets, expected };
}

interface Viewer {
  video: SequenceCounter;
  audio: SequenceCounter;
  close?: () => Promise<void>;
}

async function loadClientMain(): Promise<void> {
  const viewers: Viewer[] = [];
  const reply = (id: number, data: unknown) => process.send!({ id, data });

  const open = async (req: Extract<LoadRequest, { type: 'open' }>): Promise<OpenResult> => {
    const [{ openJanusViewer }, { openDiemcauViewer }] = await Promise.all([import('./janusViewer.js'), import('./diemcauViewer.js')]);
    const joinMs: number[] = [];
    const failures: string[] = [];
    let negotiated: OpenResult['negotiated'];
    let next = 0;
    const one = async (index: number) => {
      const viewer: Viewer = { video: new SequenceCounter(), audio: new SequenceCounter() };
      const onRtp = (kind: 'audio' | 'video', p: { sequenceNumber: number; ssrc: number; payloadType: number }) =>
        viewer[kind].add(p.ssrc, p.sequenceNumber, p.payloadType);
      try {
        if (req.sfu === 'janus') {
          const h = await openJanusViewer({
            janusUrl: req.janus!.url,
            mountpointId: req.janus!.mountpointId,
            onRtp,
            rtx: req.rtx,
            transportCc: req.transportCc,
            localAddress: req.localAddress,
          });
          negotiated ??= h.negotiated;
          joinMs.push(h.joinMs);
          viewer.close = () => h.close();
        } else {
          const h = await openDiemcauViewer({
            url: req.diemcau!.url,
            token: req.diemcau!.tokens[index],
            announcedAddress: req.diemcau!.announcedAddress,
            onRtp,
            rtx: req.rtx,
            transportCc: req.transportCc,
          });
          joinMs.push(h.joinMs);
          viewer.close = () => h.close();
        }
        viewers.push(viewer);
      } catch (error) {
        failures.push((error as Error).message);
      }
    };
    // A few at a time: a browser audience does not arrive in one millisecond either, and werift's DTLS is CPU-bound.
    const lanes = Array.from({ length: Math.min(req.concurrency, req.count) }, async () => {
      while (next < req.count) await one(next++);
    });
    await Promise.all(lanes);
    return { joinMs, failures, negotiated };
  };

  const onRequest = async (raw: unknown) => {
    const req = loadRequestSchema.parse(raw);
    switch (req.type) {
      case 'open':
        reply(req.id, await open(req));
        break;
      case 'mark':
        for (const v of viewers) {
          v.video.mark();
          v.audio.mark();
        }
        reply(req.id, performance.now());
        break;
      case 'report': {
        const report: LoadReport = {
          at: performance.now(),
          receivers: viewers.map((v) => ({ video: mainStream(v.video.report()), audio: mainStream(v.audio.report()) })),
        };
        reply(req.id, report);
        break;
      }
      case 'close':
        await Promise.all(viewers.map((v) => Promise.race([v.close?.(), new Promise((r) => setTimeout(r, 3000))]).catch(() => {})));
        reply(req.id, null);
        setTimeout(() => process.exit(0), 50);
        break;
    }
  };
  process.on('message', (req: unknown) => void onRequest(req).catch((error: unknown) => console.error('[duel load client]', error)));
  process.on('disconnect', () => process.exit(0));
}

const isMain = process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isMain) void loadClientMain();
