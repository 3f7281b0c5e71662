import crypto from 'node:crypto';

export type Closer = () => unknown;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const debug = (msg: string) => {
  if (process.env.BENCH_DEBUG) console.error(`[fanout ${new Date().toISOString().slice(11, 23)}] ${msg}`);
};

/** 30 bytes of key + salt for AES_CM_128_HMAC_SHA1_80, as the receiver's side would offer. */
export function receiverSrtpParameters() {
  return { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80' as const, keyBase64: crypto.randomBytes(30).toString('base64') };
}
