import type { Room } from '../../sfu/room/Room.js';
import type { Peer } from '../../sfu/room/Peer.js';
import type { Role } from '../../protocol/index.js';
import { feedAudioRtpParameters, feedRtp, feedVideoRtpParameters, type RtpFeed } from './ffmpeg.js';
import { rtpSink, type RtpSink } from './rtp.js';

/** A participant made of plain RTP: an ffmpeg encoder that sends, and/or a UDP socket that receives. */
export interface PlainParticipant {
  peer: Peer;
  feed?: RtpFeed;
  sink?: RtpSink;
  videoProducerId?: string;
  audioProducerId?: string;
  /** SSRC at which this participant receives the producer given. */
  ssrcOf(producerId: string): number | undefined;
  stop(): Promise<void>;
}

export async function joinPlain(
  room: Room,
  options: {
    identity: string;
    role: Role;
    send?: { pattern?: 'testsrc' | 'smptebars' | 'mandelbrot'; frequency?: number; keyframeSeconds?: number };
    receive?: boolean;
  },
): Promise<PlainParticipant> {
  const peer = room.join({
    identity: options.identity,
    name: options.identity,
    role: options.role,
    plain: true,
    rtpCapabilities: room.rtpCapabilities,
  });
  const participant: PlainParticipant = {
    peer,
    ssrcOf(producerId) {
      return peer.consumers.get(producerId)?.rtpParameters.encodings?.[0]?.ssrc;
    },
    async stop() {
      await participant.feed?.stop();
      participant.sink?.close();
    },
  };
  if (options.receive) {
    const sink = await rtpSink();
    const transport = await room.createPlainTransport(peer, 'recv');
    await transport.connect({ ip: '127.0.0.1', port: sink.port });
    participant.sink = sink;
  }
  if (options.send) {
    const video = await room.createPlainTransport(peer, 'send');
    const audio = await room.createPlainTransport(peer, 'send');
    participant.videoProducerId = (await room.produce(peer, video.id, 'video', feedVideoRtpParameters, 'camera')).id;
    participant.audioProducerId = (await room.produce(peer, audio.id, 'audio', feedAudioRtpParameters, 'mic')).id;
    participant.feed = feedRtp({
      videoPort: video.tuple.localPort,
      audioPort: audio.tuple.localPort,
      pattern: options.send.pattern,
      frequency: options.send.frequency,
      keyframeSeconds: options.send.keyframeSeconds,
    });
  }
  return participant;
}
