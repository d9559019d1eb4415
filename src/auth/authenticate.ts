import { unauthorized } from '../errors.js';
import { makeCaller, type Caller } from './caller.js';
import type { PlatformAdminEmails } from './platform-admin-emails.js';
import type { TokenVerifier } from './tokens.js';
import { acceptsToken, type UserStatusCache } from './user-status.js';

const INVALID = 'Invalid or expired token';

/** Extracts the bearer token (scheme compared case-insensitively) or throws 401. */
export function bearerToken(header: string | undefined): string {
  if (header === undefined || header === '') throw unauthorized('Missing auth token');
  const match = /^bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw unauthorized('Invalid auth header format');
  return match[1]!;
}

/** Platform routes: only platform tokens. */
export async function authenticatePlatform(header: string | undefined, platform: TokenVerifier): Promise<Caller> {
  const claims = await platform.verify(bearerToken(header));
  if (!claims) throw unauthorized(INVALID);
  return makeCaller(claims.sub, claims.roles, null);
}

/**
 * App routes: the app's own tokens first (user must still exist and be
 * active, and the token not revoked), then platform tokens carrying `platform_admin` (full admin), whose
 * email (for history's actor) is looked up from the platform users.
 */
export async function authenticateApp(
  header: string | undefined,
  app: TokenVerifier,
  users: UserStatusCache,
  platform: TokenVerifier,
  adminEmails: PlatformAdminEmails,
): Promise<Caller> {
  const token = bearerToken(header);
  const own = await app.verify(token);
  if (own) {
    const status = await users.get(own.sub);
    if (!acceptsToken(status, own.iat)) throw unauthorized(INVALID);
    return { ...makeCaller(own.sub, own.roles, status.email), issuedAt: own.iat };
  }
  const plat = await platform.verify(token);
  if (plat?.roles.includes('platform_admin')) {
    return { ...makeCaller(plat.sub, [...plat.roles, 'admin'], await adminEmails.get(plat.sub)), platform: true };
  }
  throw unauthorized(INVALID);
}
