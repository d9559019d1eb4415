#!/usr/bin/env node
// Builds what `npm start` runs, only when it is missing or older than its sources, and says what it
// does. Runs at install (`prepare`) and before every start. Each step names its inputs, its output
// marker and its command; a later build (e.g. the console's) adds a step to STEPS.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

const STEPS = [
  {
    name: 'server (TypeScript → dist/)',
    inputs: ['src', 'tsconfig.json', 'package.json'],
    marker: 'dist/.built',
    command: [process.execPath, tsc, '-p', 'tsconfig.json'],
  },
  {
    name: 'console (console/ → its Vite build)',
    inputs: ['console', 'package.json'],
    marker: 'dist/.console-built',
    command: ['npm', 'run', 'build:console', '--silent'],
  },
];

/** Newest modification time under a file or directory (0 when absent). */
function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

function staleReason(step) {
  const marker = join(root, step.marker);
  if (!existsSync(marker)) return 'no previous build';
  const built = statSync(marker).mtimeMs;
  const changed = step.inputs.find((input) => newest(join(root, input)) > built);
  return changed ? `${changed} changed since the last build` : undefined;
}

// `npm run build` passes --force: build even when up to date.
const force = process.argv.includes('--force');
let failed = false;
for (const step of STEPS) {
  const reason = force ? 'build requested' : staleReason(step);
  if (!reason) {
    console.error(`rocket: ${step.name} is up to date`);
    continue;
  }
  if (step.command[1] === tsc && !existsSync(tsc)) {
    console.error(`rocket: cannot build ${step.name}: TypeScript is not installed (run npm ci)`);
    failed = true;
    break;
  }
  console.error(`rocket: building ${step.name}: ${reason} …`);
  const started = Date.now();
  const run = spawnSync(step.command[0], step.command.slice(1), { cwd: root, stdio: 'inherit' });
  if (run.status !== 0) {
    console.error(`rocket: building ${step.name} failed`);
    failed = true;
    break;
  }
  mkdirSync(dirname(join(root, step.marker)), { recursive: true });
  writeFileSync(join(root, step.marker), `${new Date().toISOString()}\n`);
  console.error(`rocket: built ${step.name} in ${((Date.now() - started) / 1000).toFixed(1)} s (${relative(root, join(root, step.marker))})`);
}
process.exit(failed ? 1 : 0);
