import type { Options } from '@node-rs/argon2';

// OWASP password storage cheat sheet: argon2id, 19 MiB, 2 iterations, 1 lane. (2 is Algorithm.Argon2id, a const
// enum the type import cannot carry.)
const OPTIONS: Options = { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 };

// Loaded on the first password operation: a restarted server that only checks tokens never needs it.
let argon2: Promise<typeof import('@node-rs/argon2')> | undefined;
const hasher = () => (argon2 ??= import('@node-rs/argon2'));
// Only users whose hash a legacy server wrote need it.
let bcrypt: Promise<typeof import('@node-rs/bcrypt')> | undefined;
const bcryptVerifier = () => (bcrypt ??= import('@node-rs/bcrypt'));
// Modular crypt format of bcrypt: version, two-digit cost, 22 characters of salt and 31 of hash.
const BCRYPT_HASH = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

export async function hashPassword(password: string): Promise<string> {
  return (await hasher()).hash(password, OPTIONS);
}

let dummyHash: Promise<string> | undefined;

/** Verifies; with no stored hash it still spends the same time, so unknown emails are not revealed by timing. */
export async function verifyPassword(stored: string | undefined, password: string): Promise<boolean> {
  if (stored === undefined) {
    dummyHash ??= hashPassword('rocket-timing-equaliser');
    await (await hasher()).verify(await dummyHash, password).catch(() => false);
    return false;
  }
  // Hashes a legacy server wrote are bcrypt (metadata.md: "bcrypt or argon2id hash"); their users still sign in.
  try {
    if (BCRYPT_HASH.test(stored)) return await (await bcryptVerifier()).verify(password, stored);
    return await (await hasher()).verify(stored, password);
  } catch {
    return false;
  }
}
