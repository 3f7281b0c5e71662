import { DiemcauError } from '../../errors.js';

/**
 * A WHIP encoder's SDP offer the server cannot take: not SDP, no DTLS
 * fingerprint, unbundled media, no codec the session's router carries. The
 * encoder's news (400), with the reason its operator needs to fix it.
 */
export class WhipOfferError extends DiemcauError {
  constructor(message: string) {
    super('bad-request', message);
    this.name = 'WhipOfferError';
  }
}
