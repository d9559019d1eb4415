import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The folder holding Rocket's package.json. Found by walking up rather than by a fixed number of
 * "../" because the compiled code does not always sit at the same depth: `npm start` runs dist/,
 * tests run src/ through tsx, and the benchmark compiles into bench/.build/rocket/.
 */
function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'rocket') return dir;
    if (dirname(dir) === dir) throw new Error(`Rocket's package.json not found above ${from}`);
  }
}

export const PROJECT_ROOT = findProjectRoot(import.meta.dirname);
