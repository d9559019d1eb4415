import { SignJWT, jwtVerify } from 'jose';
import { UUID_RE } from '../types/ids.js';

export const ACCESS_TOKEN_SECONDS = 15 * 60;
export const REFRESH_TOKEN_SECONDS = 7 * 24 * 3600;

export interface AccessClaims {
  sub: string;
  roles: string[];
  /** Issued at, in seconds; 0 when the token does not say. */
  iat: number;
  exp: number;
}

export function secretKey(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

export async function signAccessToken(key: Uint8Array, sub: string, roles: readonly string[]): Promise<string> {
  return new SignJWT({ roles: [...roles] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(`${ACCESS_TOKEN_SECONDS}s`)
    .sign(key);
}

/**
 * Verified claims, or undefined for any invalid token (signature, algorithm, expiry, shape — `sub` a UUID).
 * Verified tokens are remembered until they expire so the hot path skips the HMAC.
 */
export class TokenVerifier {
  private readonly cache = new Map<string, AccessClaims>();

  constructor(private readonly key: Uint8Array) {}

  async verify(token: string): Promise<AccessClaims | undefined> {
    const cached = this.cache.get(token);
    const nowSec = Date.now() / 1000;
    if (cached) {
      if (cached.exp > nowSec) return cached;
      this.cache.delete(token);
      return undefined;
    }
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'] });
      // Every user id is a UUID: any other `sub` names nobody, and must not reach a uuid column as a query value.
      if (typeof payload.sub !== 'string' || !UUID_RE.test(payload.sub) || typeof payload.exp !== 'number') return undefined;
      const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
      const claims: AccessClaims = { sub: payload.sub, roles, iat: typeof payload.iat === 'number' ? payload.iat : 0, exp: payload.exp };
      if (this.cache.size >= 10_000) this.cache.clear();
      this.cache.set(token, claims);
      return claims;
    } catch {
      return undefined;
    }
  }
}
