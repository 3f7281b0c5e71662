/**
 * Hostile signaling messages, generated from a seed so that a failure
 * reproduces: random JSON, wrong types, huge numbers, deep nesting,
 * prototype-pollution keys, unknown methods, real methods with mutated data,
 * binary frames and broken JSON.
 */
import { requestEnvelopeSchema, requestSchemas } from '../../protocol/index.js';

export type Rng = () => number;

/** mulberry32: small, fast, good enough to explore with, and the same on every machine. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const below = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[below(rng, items.length)];
const chance = (rng: Rng, p: number) => rng() < p;

export const allMethods = Object.keys(requestSchemas);

/** What the generator knows of the session, so that some requests reach deep into the server. */
export interface FuzzContext {
  rtpCapabilities: unknown;
  /** Identities present in the session (floor, mute). */
  identities: readonly string[];
  /** Methods this connection may be sent (destructive ones left out for roles allowed them). */
  methods: readonly string[];
  /** Transports this connection created so far. */
  transportIds: string[];
}

export interface FuzzFrame {
  kind: string;
  frame: string | Buffer;
}

const weirdScalars: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  2 ** 53,
  2 ** 64,
  Number.MAX_SAFE_INTEGER + 2,
  '',
  '\u0000',
  '💥',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  'toString',
  'a'.repeat(5000),
];

function randomString(rng: Rng, max = 40): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789._-/:$ {}[]"\\\u00e9\u1ec7\ud83d\ude00';
  let out = '';
  for (let i = below(rng, max); i > 0; i--) out += alphabet[below(rng, alphabet.length)];
  return out;
}

/** A random JSON value: a few levels of arrays and objects of random scalars. */
export function randomValue(rng: Rng, depth = 3): unknown {
  const roll = below(rng, depth > 0 ? 8 : 5);
  switch (roll) {
    case 0:
      return pick(rng, weirdScalars);
    case 1:
      return rng() * 10 ** below(rng, 20) * (chance(rng, 0.3) ? -1 : 1);
    case 2:
      return randomString(rng);
    case 3:
      return below(rng, 1000);
    case 4:
      return chance(rng, 0.5);
    case 5:
    case 6:
      return Object.fromEntries(Array.from({ length: below(rng, 5) }, () => [randomString(rng, 12), randomValue(rng, depth - 1)]));
    default:
      return Array.from({ length: below(rng, 5) }, () => randomValue(rng, depth - 1));
  }
}

function hex(rng: Rng, bytes: number): string {
  return Array.from({ length: bytes }, () => below(rng, 256).toString(16).padStart(2, '0').toUpperCase()).join(':');
}

/** Data a method accepts, or nearly: the starting point of mutations. */
function validData(rng: Rng, method: string, ctx: FuzzContext): Record<string, unknown> {
  // The generator draws the same numbers whatever the server answered before, so a seed gives the same
  // frames on every run (up to the ids the server assigned).
  const known = chance(rng, 0.7);
  const index = rng();
  const unknownId = randomString(rng, 36) || 't';
  const transportId = known && ctx.transportIds.length ? ctx.transportIds[Math.floor(index * ctx.transportIds.length)] : unknownId;
  const n = below(rng, 1_000_000);
  switch (method) {
    case 'join':
      return { rtpCapabilities: ctx.rtpCapabilities, receiveMode: pick(rng, ['auto', 'low', 'audio-only']) };
    case 'transport.create':
      return { direction: pick(rng, ['send', 'recv']) };
    case 'transport.connect':
      return {
        transportId,
        dtlsParameters: { role: pick(rng, ['client', 'server', 'auto']), fingerprints: [{ algorithm: 'sha-256', value: hex(rng, 32) }] },
      };
    case 'transport.restartIce':
      return { transportId };
    case 'produce': {
      const video = chance(rng, 0.5);
      return {
        transportId,
        kind: video ? 'video' : 'audio',
        source: pick(rng, ['camera', 'mic', 'screen']),
        rtpParameters: {
          mid: String(n),
          codecs: [
            video
              ? { mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }
              : { mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 },
          ],
          encodings: [{ ssrc: 1000 + n }],
        },
      };
    }
    case 'producer.close':
      return { producerId: randomString(rng, 36) || 'p' };
    case 'consumer.resume':
      return { consumerId: randomString(rng, 36) || 'c' };
    case 'receive.setMode':
      return { mode: pick(rng, ['auto', 'low', 'audio-only']) };
    case 'hand.raise':
      return { raised: chance(rng, 0.5) };
    case 'floor.give':
      return { identity: chance(rng, 0.7) ? pick(rng, ctx.identities) : `ghost-${n}` };
    case 'peer.remove':
      // Never a connection of the fuzzer: its replies would go with it.
      return { identity: `ghost-${n}` };
    case 'peer.mute':
      return { identity: pick(rng, ctx.identities), muted: chance(rng, 0.5) };
    case 'agenda.setCurrent':
      return { itemId: chance(rng, 0.5) ? null : `item-${n}` };
    case 'stats.report':
      return {
        availableOutgoingBitrate: below(rng, 5_000_000),
        roundTripTime: rng(),
        framesPerSecond: below(rng, 60),
        inboundLoss: rng(),
      };
    default:
      return {};
  }
}

/** Changes one thing somewhere in `value`: a key gone, a type wrong, a number huge, a key added. */
function mutate(rng: Rng, value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null || depth > 3 || chance(rng, 0.25)) {
    return chance(rng, 0.5) ? pick(rng, weirdScalars) : randomValue(rng, 2);
  }
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [...(value as unknown[])] : { ...value };
  const keys = Object.keys(copy);
  const roll = below(rng, 4);
  if (roll === 0 && keys.length) {
    const key = pick(rng, keys);
    if (Array.isArray(copy)) copy.splice(Number(key), 1);
    else delete copy[key];
  } else if (roll === 1 || !keys.length) {
    (copy as Record<string, unknown>)[randomString(rng, 10) || 'k'] = randomValue(rng, 2);
  } else {
    const key = pick(rng, keys);
    (copy as Record<string, unknown>)[key] = mutate(rng, (copy as Record<string, unknown>)[key], depth + 1);
  }
  return copy;
}

function deeplyNested(rng: Rng): string {
  // Past the server's limit (32) and past what a recursive parser or cloner survives, cheaply.
  const depth = chance(rng, 0.8) ? 33 + below(rng, 300) : 10_000 + below(rng, 10_000);
  const [open, close] = chance(rng, 0.5) ? ['[', ']'] : ['{"a":', '}'];
  return open.repeat(depth) + '1' + close.repeat(depth);
}

/** Text with keys that pollute prototypes when copied carelessly (JSON.stringify cannot write them). */
function pollutingText(rng: Rng, id: number, method: string): string {
  const payloads = [
    `{"__proto__":{"polluted":"yes","role":"operator"}}`,
    `{"constructor":{"prototype":{"polluted":"yes"}}}`,
    `{"rtpCapabilities":{"__proto__":{"codecs":[]},"codecs":[{"kind":"video","mimeType":"video/VP8","__proto__":{"polluted":1}}]}}`,
    `{"transportId":"x","__proto__":{"transportId":"y"},"dtlsParameters":{"fingerprints":[{"algorithm":"sha-256","value":"AA","__proto__":{"x":1}}]}}`,
    `{"identity":"a","__proto__":{"identity":"b"},"prototype":{"polluted":1}}`,
  ];
  const envelope = chance(rng, 0.5) ? `"__proto__":{"id":1,"method":"session.end"},` : `"constructor":{"name":"x"},`;
  return `{${envelope}"id":${id},"method":${JSON.stringify(method)},"data":${pick(rng, payloads)}}`;
}

const prototypeNames = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

/**
 * One hostile frame. `nextId` gives a fresh request id for frames that carry a
 * valid one; the caller learns which do with `expectedId()`.
 */
export function hostileFrame(rng: Rng, nextId: () => number, ctx: FuzzContext): FuzzFrame {
  const roll = rng();
  const method = pick(rng, ctx.methods);
  if (roll < 0.1) return { kind: 'random JSON', frame: JSON.stringify(randomValue(rng, 4)) ?? 'null' };
  if (roll < 0.2) {
    const id = chance(rng, 0.3) ? nextId() : pick(rng, [-1, 1.5, '7', null, true, [], {}, 1e308, 2 ** 53, 2 ** 63, 'NaN']);
    const envelope = { id, method: chance(rng, 0.5) ? pick(rng, weirdScalars) : method, data: randomValue(rng, 2) };
    return { kind: 'wrong types', frame: JSON.stringify(envelope) };
  }
  if (roll < 0.25) {
    const data = Object.fromEntries(
      Object.keys(validData(rng, method, ctx)).map((k) => [k, pick(rng, [1e308, -1e308, 2 ** 64, -(2 ** 53)])]),
    );
    return { kind: 'huge numbers', frame: JSON.stringify({ id: chance(rng, 0.8) ? nextId() : 2 ** 60, method, data }) };
  }
  if (roll < 0.28) {
    const frame = chance(rng, 0.7)
      ? `{"id":${nextId()},"method":${JSON.stringify(method)},"data":${deeplyNested(rng)}}`
      : deeplyNested(rng);
    return { kind: 'deep nesting', frame };
  }
  if (roll < 0.35)
    return { kind: 'prototype keys', frame: pollutingText(rng, nextId(), chance(rng, 0.5) ? method : pick(rng, prototypeNames)) };
  if (roll < 0.43) {
    const unknown = chance(rng, 0.5) ? pick(rng, prototypeNames) : randomString(rng, 80);
    return { kind: 'unknown method', frame: JSON.stringify({ id: nextId(), method: unknown, data: randomValue(rng, 2) }) };
  }
  if (roll < 0.78) {
    const data = mutate(rng, validData(rng, method, ctx));
    return { kind: 'mutated data', frame: JSON.stringify({ id: nextId(), method, data }) };
  }
  if (roll < 0.9) return { kind: 'valid', frame: JSON.stringify({ id: nextId(), method, data: validData(rng, method, ctx) }) };
  if (roll < 0.95) {
    const bytes = Buffer.alloc(below(rng, 1024));
    for (let i = 0; i < bytes.length; i++) bytes[i] = below(rng, 256);
    return { kind: 'binary', frame: bytes };
  }
  const valid = JSON.stringify({ id: nextId(), method, data: validData(rng, method, ctx) });
  const broken = chance(rng, 0.5) ? valid.slice(0, below(rng, valid.length)) : randomString(rng, 200);
  return { kind: 'broken JSON', frame: broken };
}

const idSchema = requestEnvelopeSchema.shape.id;

/** The id the server must answer a text frame with: its valid request id, else -1. */
export function expectedId(frame: string): number {
  let json: unknown;
  try {
    json = JSON.parse(frame);
  } catch {
    return -1;
  }
  if (typeof json !== 'object' || json === null || !Object.hasOwn(json, 'id')) return -1;
  const id = idSchema.safeParse((json as { id: unknown }).id);
  return id.success ? id.data : -1;
}
