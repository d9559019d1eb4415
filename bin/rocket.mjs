#!/usr/bin/env node
// The `rocket` command: runs the compiled CLI (`npm run build` or `npm start` compiles it).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('rocket: not built yet: run `npm run build` in the Rocket checkout first\n');
  process.exit(1);
}
await import(main);
