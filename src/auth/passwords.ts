import type { Options } from '@node-rs/argon2';

// OWASP password storage cheat sheet: argon2id, 19 MiB, 2 iterations, 1 lane. (2 is Algorithm.Argon2id, a const
// enum the type import cannot carry.)
const OPTIONS: Options = { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 };

// Loaded on the first password operation: a restarted server that only checks tokens never needs it.
let argon2: Promise<typeof import('@node-rs/argon2')> | undefined;
const hasher = () => (argon2 ??= import('@node-rs/argon2'));

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
  try {
    return await (await hasher()).verify(stored, password);
  } catch {
    return false;
  }
}
