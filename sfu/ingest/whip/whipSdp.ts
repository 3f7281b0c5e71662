/**
 * A WHIP encoder's SDP offer (RFC 9725) read as mediasoup parameters, and the
 * server's answer written back. sdp-transform parses and writes the text;
 * these functions decide what is taken: the first audio (Opus) and the first
 * video (H.264 or VP8, in the router's order of preference) of the offer, on
 * one bundled transport, ICE-lite on our side.
 */
import { randomInt } from 'node:crypto';
import type { types } from 'mediasoup';
import sdpTransform, { type MediaDescription, type SessionDescription } from 'sdp-transform';
import { WhipOfferError } from './WhipOfferError.js';

/** One m-line the server takes: what its producer is given. */
export interface TakenMedia {
  kind: 'audio' | 'video';
  mid: string;
  rtpParameters: types.RtpParameters;
}

/** What the server makes of an offer. */
export interface WhipPlan {
  offer: SessionDescription;
  /** The encoder's certificate and DTLS role, as transport.connect() takes them. */
  dtlsParameters: types.DtlsParameters;
  /** Every m-line of the offer, in order, with what is taken from it (null: refused, port 0 in the answer). */
  sections: { offered: MediaDescription; taken: TakenMedia | null }[];
}

/** What the answer says of the server's side: the WebRtcTransport's parameters. */
export type AnswerTransport = Pick<types.WebRtcTransport, 'iceParameters' | 'iceCandidates' | 'dtlsParameters'>;

const fingerprintAlgorithms: readonly string[] = ['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512'];
const ridUri = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';
const midUri = 'urn:ietf:params:rtp-hdrext:sdes:mid';

/**
 * Header extensions the router reads but a broadcast feed must not use: with
 * video-orientation a browser sends its picture unrotated and only says how
 * to turn it, which the HLS recording (ffmpeg) ignores.
 */
const leftOut = new Set(['urn:3gpp:video-orientation']);

/** Reads an offer against the session router's capabilities; a WhipOfferError says what makes it unusable. */
export function planOffer(text: string, capabilities: types.RtpCapabilities): WhipPlan {
  let offer: SessionDescription;
  try {
    offer = sdpTransform.parse(text);
  } catch (error) {
    throw new WhipOfferError(`not an SDP offer: ${error instanceof Error ? error.message : String(error)}`);
  }
  // sdp-transform reads anything: garbage comes back without its v= and m= lines.
  if (offer.version !== 0 || !Array.isArray(offer.media) || offer.media.length === 0) {
    throw new WhipOfferError('not an SDP offer: it needs a v=0 line and at least one m= line');
  }
  const fingerprint = offer.fingerprint ?? offer.media.find((m) => m.fingerprint)?.fingerprint;
  if (!fingerprint) throw new WhipOfferError('the offer has no DTLS fingerprint (a=fingerprint)');
  const algorithm = fingerprint.type.toLowerCase();
  if (!fingerprintAlgorithms.includes(algorithm)) throw new WhipOfferError(`unknown DTLS fingerprint algorithm ${fingerprint.type}`);
  const setup = (offer.media.find((m) => m.setup)?.setup ?? offer.setup ?? 'actpass').toLowerCase();
  if (setup !== 'actpass' && setup !== 'active' && setup !== 'passive') throw new WhipOfferError(`unknown a=setup:${setup}`);

  const kinds = new Set<string>();
  const sections = offer.media.map((offered) => ({ offered, taken: takeMedia(offered, capabilities, kinds) }));
  const taken = sections.flatMap((s) => (s.taken ? [s.taken] : []));
  if (taken.length === 0) throw new WhipOfferError('the offer sends no audio (Opus) or video (H.264, VP8) this server takes');
  // One transport carries everything (RFC 9725 §4.5: WHIP uses BUNDLE): unbundled m-lines would each want their own ICE and DTLS.
  const bundle = new Set(String(offer.groups?.find((g) => g.type === 'BUNDLE')?.mids ?? '').split(' '));
  if (taken.length > 1 && taken.some((t) => !bundle.has(t.mid))) {
    throw new WhipOfferError('the offer must bundle its media on one transport (a=group:BUNDLE)');
  }
  return {
    offer,
    // actpass or active: the encoder is the DTLS client; passive: it waits for us as the server.
    dtlsParameters: {
      role: setup === 'passive' ? 'server' : 'client',
      fingerprints: [{ algorithm: algorithm as types.FingerprintAlgorithm, value: fingerprint.hash }],
    },
    sections,
  };
}

/** The answer: ICE-lite, the transport's candidates and certificate, each taken m-line received with its codec. */
export function writeAnswer(plan: WhipPlan, transport: AnswerTransport): string {
  const { iceParameters, iceCandidates, dtlsParameters } = transport;
  const fingerprint = dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ?? dtlsParameters.fingerprints[0];
  const setup = plan.dtlsParameters.role === 'server' ? 'active' : 'passive';
  const candidates = iceCandidates.map((c) => ({
    foundation: c.foundation,
    component: 1,
    transport: c.protocol,
    priority: c.priority,
    ip: c.address,
    port: c.port,
    type: c.type,
    ...(c.tcpType ? { tcptype: c.tcpType } : {}),
  }));
  const media = plan.sections.map(({ offered, taken }): MediaDescription => {
    if (!taken) {
      // Refused: port 0, nothing flows; its codecs stay as offered so that the line still parses.
      return {
        type: offered.type,
        port: 0,
        protocol: offered.protocol,
        payloads: offered.payloads,
        ...(offered.mid !== undefined ? { mid: String(offered.mid) } : {}),
        direction: 'inactive',
        rtp: offered.rtp,
        fmtp: offered.fmtp,
      };
    }
    const { codecs, headerExtensions, encodings, rtcp } = taken.rtpParameters;
    const rids = encodings!.flatMap((e) => (e.rid ? [e.rid] : []));
    return {
      type: offered.type,
      port: 9,
      protocol: offered.protocol,
      payloads: codecs.map((c) => c.payloadType).join(' '),
      connection: { version: 4, ip: '0.0.0.0' },
      mid: taken.mid,
      direction: 'recvonly',
      iceUfrag: iceParameters.usernameFragment,
      icePwd: iceParameters.password,
      setup,
      candidates,
      endOfCandidates: 'end-of-candidates',
      rtcpMux: 'rtcp-mux',
      ...(rtcp?.reducedSize ? { rtcpRsize: 'rtcp-rsize' as const } : {}),
      rtp: codecs.map((c) => ({
        payload: c.payloadType,
        codec: c.mimeType.split('/')[1],
        rate: c.clockRate,
        ...(c.channels && c.channels > 1 ? { encoding: c.channels } : {}),
      })),
      fmtp: codecs
        .filter((c) => Object.keys(c.parameters ?? {}).length > 0)
        .map((c) => ({
          payload: c.payloadType,
          config: Object.entries(c.parameters as Record<string, unknown>)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(';'),
        })),
      rtcpFb: codecs.flatMap((c) =>
        (c.rtcpFeedback ?? []).map((fb) => ({ payload: c.payloadType, type: fb.type, ...(fb.parameter ? { subtype: fb.parameter } : {}) })),
      ),
      ext: (headerExtensions ?? []).map((h) => ({ value: h.id, uri: h.uri })),
      ...(rids.length
        ? { rids: rids.map((id) => ({ id, direction: 'recv' })), simulcast: { dir1: 'recv' as const, list1: rids.join(';') } }
        : {}),
    };
  });
  const bundled = plan.sections.flatMap((s) => (s.taken ? [s.taken.mid] : []));
  const answer: SessionDescription = {
    version: 0,
    origin: { username: '-', sessionId: String(randomInt(1, 2 ** 47)), sessionVersion: 1, netType: 'IN', ipVer: 4, address: '0.0.0.0' },
    name: '-',
    timing: { start: 0, stop: 0 },
    icelite: 'ice-lite',
    fingerprint: { type: fingerprint.algorithm, hash: fingerprint.value.toUpperCase() },
    groups: [{ type: 'BUNDLE', mids: bundled.join(' ') }],
    msidSemantic: { semantic: 'WMS', token: '*' },
    media,
  };
  return sdpTransform.write(answer);
}

/** What the server takes of one m-line: null for what it refuses (not audio or video, not sent, a second of a kind, no codec). */
function takeMedia(m: MediaDescription, capabilities: types.RtpCapabilities, kinds: Set<string>): TakenMedia | null {
  const kind = m.type;
  if (kind !== 'audio' && kind !== 'video') return null;
  // Port 0 without bundle-only: the offerer itself turned the line off.
  if (m.port === 0 && !m.bundleOnly) return null;
  if (m.direction && m.direction !== 'sendonly' && m.direction !== 'sendrecv') return null;
  // One picture and one voice: the studio's second camera would replace its first (Room.produce).
  if (kinds.has(kind)) return null;
  if (m.mid === undefined || String(m.mid) === '') throw new WhipOfferError(`the m=${kind} line has no a=mid`);
  const mid = String(m.mid);
  const chosen = chooseCodec(m, kind, capabilities);
  if (!chosen) return null;
  kinds.add(kind);
  const receivable = (capabilities.headerExtensions ?? []).filter(
    (h) => h.kind === kind && (h.direction === 'sendrecv' || h.direction === 'recvonly') && !leftOut.has(h.uri),
  );
  const headerExtensions: types.RtpHeaderExtensionParameters[] = (m.ext ?? [])
    .filter((e) => receivable.some((h) => h.uri === e.uri))
    .map((e) => ({ uri: e.uri as types.RtpHeaderExtensionUri, id: e.value, encrypt: false, parameters: {} }));
  const uris = new Set(headerExtensions.map((h) => h.uri as string));
  const cname = m.ssrcs?.find((s) => s.attribute === 'cname')?.value;
  return {
    kind,
    mid,
    rtpParameters: {
      mid,
      codecs: chosen.rtx ? [chosen.codec, chosen.rtx] : [chosen.codec],
      headerExtensions,
      encodings: encodingsOf(m, chosen.rtx !== undefined, uris),
      rtcp: { ...(cname ? { cname } : {}), reducedSize: m.rtcpRsize !== undefined },
    },
  };
}

/**
 * The first codec of the router (its order is the server's preference:
 * H.264 before VP8) that the m-line offers in a form the router takes, with
 * its retransmission (RTX) payload if offered.
 */
function chooseCodec(
  m: MediaDescription,
  kind: 'audio' | 'video',
  capabilities: types.RtpCapabilities,
): { codec: types.RtpCodecParameters; rtx?: types.RtpCodecParameters } | null {
  const fmtp = new Map(m.fmtp.map((f) => [Number(f.payload), sdpTransform.parseParams(f.config)]));
  const routerRtx = (capabilities.codecs ?? []).some((c) => c.kind === kind && isRtx(c.mimeType));
  for (const cap of capabilities.codecs ?? []) {
    if (cap.kind !== kind || isRtx(cap.mimeType)) continue;
    for (const rtp of m.rtp) {
      if (`${kind}/${rtp.codec}`.toLowerCase() !== cap.mimeType.toLowerCase() || rtp.rate !== cap.clockRate) continue;
      if (kind === 'audio' && Number(rtp.encoding ?? 1) !== (cap.channels ?? 1)) continue;
      const parameters = normalised(fmtp.get(rtp.payload) ?? {});
      if (!sameFormat(cap, parameters)) continue;
      const offeredFeedback = (m.rtcpFb ?? []).filter((fb) => fb.payload === '*' || Number(fb.payload) === rtp.payload);
      const rtcpFeedback = (cap.rtcpFeedback ?? []).filter((fb) =>
        offeredFeedback.some((o) => o.type === fb.type && (o.subtype ?? '') === (fb.parameter ?? '')),
      );
      const codec: types.RtpCodecParameters = {
        mimeType: cap.mimeType,
        payloadType: rtp.payload,
        clockRate: cap.clockRate,
        ...(cap.channels ? { channels: cap.channels } : {}),
        parameters,
        rtcpFeedback,
      };
      const rtx = routerRtx
        ? m.rtp.find((r) => isRtx(`${kind}/${r.codec}`) && r.rate === rtp.rate && Number(fmtp.get(r.payload)?.apt) === rtp.payload)
        : undefined;
      if (!rtx) return { codec };
      return {
        codec,
        rtx: {
          mimeType: `${kind}/rtx`,
          payloadType: rtx.payload,
          clockRate: rtx.rate!,
          parameters: { apt: rtp.payload },
          rtcpFeedback: [],
        },
      };
    }
  }
  return null;
}

/**
 * The encodings the encoder sends: its rids if it sends simulcast (a=simulcast,
 * lowest layer first as mediasoup expects), else its SSRC (and RTX SSRC from
 * a=ssrc-group:FID); without either, the stream is told apart by its MID.
 */
function encodingsOf(m: MediaDescription, withRtx: boolean, uris: Set<string>): types.RtpEncodingParameters[] {
  const list = m.simulcast?.dir1 === 'send' ? m.simulcast.list1 : m.simulcast?.dir2 === 'send' ? m.simulcast.list2 : undefined;
  if (list) {
    if (!uris.has(ridUri)) throw new WhipOfferError(`simulcast on m=${m.type} needs the ${ridUri} header extension`);
    const sent = new Set((m.rids ?? []).filter((r) => r.direction === 'send').map((r) => String(r.id)));
    // Each layer may list alternatives: the first is the one sent.
    const rids = sdpTransform.parseSimulcastStreamList(list).map((alternatives) => String(alternatives[0].scid));
    const unknown = rids.find((rid) => !sent.has(rid));
    if (unknown !== undefined) throw new WhipOfferError(`a=simulcast names rid ${unknown}, which no a=rid:… send line declares`);
    return rids.map((rid) => ({ rid }));
  }
  const fid = m.ssrcGroups
    ?.find((g) => g.semantics === 'FID')
    ?.ssrcs.split(' ')
    .map(Number);
  if (fid && fid.length >= 2) return [{ ssrc: fid[0], ...(withRtx ? { rtx: { ssrc: fid[1] } } : {}) }];
  const ssrc = m.ssrcs?.[0]?.id;
  if (ssrc !== undefined) return [{ ssrc: Number(ssrc) }];
  if (!uris.has(midUri)) throw new WhipOfferError(`the m=${m.type} line announces no SSRC (a=ssrc) and no ${midUri} header extension`);
  return [{}];
}

/** Whether an offered format is one the router's codec takes (for H.264: its packetization mode and profile). */
function sameFormat(cap: types.RtpCodecCapability, parameters: Record<string, string | number>): boolean {
  if (cap.mimeType.toLowerCase() !== 'video/h264') return true;
  const capParameters = normalised((cap.parameters ?? {}) as Record<string, string | number>);
  if (Number(parameters['packetization-mode'] ?? 0) !== Number(capParameters['packetization-mode'] ?? 0)) return false;
  const offered = h264Profile(String(parameters['profile-level-id'] ?? '42001f'));
  return offered !== null && offered === h264Profile(String(capParameters['profile-level-id'] ?? '42001f'));
}

/**
 * The H.264 profile a profile-level-id names (RFC 6184 §8.1: profile_idc and
 * the constraint flags of profile-iop), as mediasoup compares them; null if unknown.
 */
export function h264Profile(profileLevelId: string): string | null {
  if (!/^[0-9a-f]{6}$/i.test(profileLevelId)) return null;
  const idc = parseInt(profileLevelId.slice(0, 2), 16);
  const iop = parseInt(profileLevelId.slice(2, 4), 16);
  if ((idc === 0x42 && (iop & 0x4f) === 0x40) || (idc === 0x4d && (iop & 0x8f) === 0x80) || (idc === 0x58 && (iop & 0xcf) === 0xc0)) {
    return 'constrained-baseline';
  }
  if ((idc === 0x42 && (iop & 0x4f) === 0x00) || (idc === 0x58 && (iop & 0xcf) === 0x80)) return 'baseline';
  if (idc === 0x4d && (iop & 0xaf) === 0x00) return 'main';
  if (idc === 0x64 && iop === 0x0c) return 'constrained-high';
  if (idc === 0x64 && iop === 0x00) return 'high';
  if (idc === 0x6e || idc === 0x7a || idc === 0xf4) return `high-${idc}`;
  return null;
}

/** sdp-transform reads '640c1f' as text but '420032'-like ids as numbers: profile-level-id stays text. */
function normalised(parameters: Record<string, string | number>): Record<string, string | number> {
  const id = parameters['profile-level-id'];
  return id === undefined ? { ...parameters } : { ...parameters, 'profile-level-id': String(id).padStart(6, '0') };
}

function isRtx(mimeType: string): boolean {
  return /\/rtx$/i.test(mimeType);
}
