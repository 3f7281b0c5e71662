import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SignJWT, jwtVerify } from 'jose';
import { tokenClaimsSchema, type TokenClaims } from '../../protocol/index.js';
import { UnauthorizedError } from '../errors.js';

/**
 * Signs and checks role tokens (HS256 JWTs). An invitation link is a token:
 * it names the session, the point's identity, its display name and its role.
 */
export class TokenService {
  readonly #key: Uint8Array;
  readonly #ttlSeconds: number;
  readonly #check: (claims: TokenClaims) => Promise<void>;

  /**
   * `check` runs after the signature on every token, and again on open
   * sockets: it throws for a link of a disabled point or one older than its
   * last revocation, and for an account's token from before its sign-out.
   */
  constructor(options: { secret: string; ttlHours: number; check?: (claims: TokenClaims) => Promise<void> }) {
    this.#key = new TextEncoder().encode(options.secret);
    this.#ttlSeconds = Math.round(options.ttlHours * 3600);
    this.#check = options.check ?? (async () => undefined);
  }

  /** How long a token lives unless told otherwise (DIEMCAU_TOKEN_TTL_HOURS). */
  get ttlSeconds(): number {
    return this.#ttlSeconds;
  }

  /** Whether claims already verified still admit (the point or account may have changed since): throws if not. */
  async recheck(claims: TokenClaims): Promise<void> {
    await this.#check(claims);
  }

  /** Uses the configured secret, else the one kept in the data folder (created once). */
  static secretFrom(dataDir: string, configured?: string): string {
    if (configured) return configured;
    const file = path.join(dataDir, 'token-secret');
    try {
      return fs.readFileSync(file, 'utf8').trim();
    } catch {
      fs.mkdirSync(dataDir, { recursive: true });
      const secret = randomBytes(32).toString('base64url');
      fs.writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
      return secret;
    }
  }

  /** Always with an expiry: verify() refuses tokens without one. */
  async sign(claims: TokenClaims, ttlSeconds = this.#ttlSeconds): Promise<string> {
    const valid = tokenClaimsSchema.parse(claims);
    return new SignJWT({
      sid: valid.sid,
      role: valid.role,
      name: valid.name,
      ...(valid.ver !== undefined ? { ver: valid.ver } : {}),
      ...(valid.gen !== undefined ? { gen: valid.gen } : {}),
      ...(valid.accountRole !== undefined ? { accountRole: valid.accountRole } : {}),
    })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(valid.sub)
      .setIssuer('diemcau')
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(this.#key);
  }

  async verify(token: string | undefined | null): Promise<TokenClaims> {
    if (!token) throw new UnauthorizedError('a token is required');
    let claims: TokenClaims;
    try {
      // Every token this server mints expires: one without `exp` (minted elsewhere with the secret) would admit forever.
      const { payload } = await jwtVerify(token, this.#key, { issuer: 'diemcau', algorithms: ['HS256'], requiredClaims: ['exp'] });
      claims = tokenClaimsSchema.parse(payload);
    } catch (error) {
      const expired = (error as { code?: string }).code === 'ERR_JWT_EXPIRED';
      throw new UnauthorizedError(expired ? 'the invitation has expired' : 'the token is not valid');
    }
    await this.#check(claims);
    return claims;
  }
}
