import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/**
 * `mkdir -p` that fails instead of spinning: Node's `mkdir(dir, { recursive: true })` loops forever,
 * at full CPU, where the parent exists but the child can never be made (any path under /proc), so a
 * misconfigured storage or data directory hung `rocket start`, `rocket doctor` and uploads. The missing
 * directories are made one by one, from the outermost; the first refusal is thrown.
 */
export async function makeDirectory(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    const found = await stat(d).catch((err: unknown) => {
      if (code(err) === 'ENOENT') return undefined;
      throw err;
    });
    if (found?.isDirectory()) break;
    if (found) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: 'ENOTDIR' });
    missing.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    await mkdir(d).catch((err: unknown) => {
      if (code(err) !== 'EEXIST') throw err;
    });
  }
}
