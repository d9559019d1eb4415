/** Who is making a request, after authentication. */
export interface Caller {
  id: string;
  roles: string[];
  email: string | null;
  /** Role `admin` (exact): bypasses permission policies. */
  isAdmin: boolean;
  /** A platform admin's token used on an app. */
  platform?: true;
  /**
   * When the credential was issued (seconds): an access token's `iat`, a realtime ticket's issue time.
   * A long-lived use of it (a realtime stream) ends once the user's tokens are revoked after it.
   */
  issuedAt?: number;
}

/** The engine's own writes (workflows, state-machine actions): no permission or transition checks. */
export const SYSTEM_ACTOR: Caller = { id: '00000000-0000-0000-0000-000000000000', roles: ['admin'], email: null, isAdmin: true };

export function makeCaller(id: string, roles: string[], email: string | null): Caller {
  return { id, roles, email, isAdmin: roles.includes('admin') };
}
