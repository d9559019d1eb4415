import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirectory } from '../directories.js';

/**
 * The platform JWT secret: from the environment when set, otherwise generated
 * once and kept in the data directory, so there is never a built-in secret.
 * Instances starting at once on one data directory agree on one secret: the
 * file appears complete or not at all (written aside, then hard-linked into
 * place, which fails when another instance was first).
 */
export async function platformSecret(dataDir: string, fromEnv: string | undefined): Promise<string> {
  if (fromEnv) return fromEnv;
  const file = join(dataDir, 'platform-jwt-secret');
  if (existsSync(file)) {
    const stored = (await readFile(file, 'utf8')).trim();
    if (stored.length >= 32) return stored;
    await unlink(file).catch(() => undefined);
  }
  await makeDirectory(dataDir);
  const secret = randomBytes(32).toString('hex');
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(aside, `${secret}\n`, { mode: 0o600 });
  try {
    await link(aside, file);
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return (await readFile(file, 'utf8')).trim();
  } finally {
    await unlink(aside).catch(() => undefined);
  }
}
