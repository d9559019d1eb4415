import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'vite';

const ROOT = resolve(import.meta.dirname, '../../console');
const OUT = resolve(import.meta.dirname, '../../dist/console/index.html');

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

/** Browser tests exercise the built console: build it once per run when its sources changed. */
export default async function setup(): Promise<void> {
  if (existsSync(OUT) && statSync(OUT).mtimeMs >= newest(ROOT)) return;
  // vitest sets NODE_ENV=test, which makes Vite build Preact's development bundle, unminified: the
  // tests are to exercise (and measure) what `npm run build` ships
  const env = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ configFile: join(ROOT, 'vite.config.ts'), mode: 'production', logLevel: 'warn' });
  } finally {
    process.env.NODE_ENV = env;
  }
}
