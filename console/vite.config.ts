import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

const OUT = fileURLToPath(new URL('../dist/console', import.meta.url));
const BUDGET = 250 * 1024;

/**
 * spec/console.md: at most 250 KB of JavaScript (gzip) for the login screen and the shell. Measured
 * here on what index.html loads — the entry chunk and its static imports — so every build states the
 * figure (also in dist/console-size.json) and a build over the budget fails.
 */
function initialJsBudget(): Plugin {
  return {
    name: 'rocket-initial-js-budget',
    apply: 'build',
    generateBundle(_options, bundle) {
      const seen = new Set<string>();
      const visit = (file: string) => {
        const chunk = bundle[file];
        if (chunk?.type !== 'chunk' || seen.has(file)) return;
        seen.add(file);
        for (const i of chunk.imports) visit(i);
      };
      for (const [file, c] of Object.entries(bundle)) if (c.type === 'chunk' && c.isEntry) visit(file);
      let raw = 0;
      let gzip = 0;
      for (const file of seen) {
        const code = (bundle[file] as { code: string }).code;
        raw += Buffer.byteLength(code);
        gzip += gzipSync(code).length;
      }
      const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
      this.info(`initial JavaScript: ${kb(gzip)} gzip (${kb(raw)} raw) in ${seen.size} file(s); budget ${kb(BUDGET)}`);
      writeFileSync(`${OUT}-size.json`, `${JSON.stringify({ initial_js_gzip_bytes: gzip, initial_js_raw_bytes: raw, files: [...seen] }, null, 2)}\n`);
      if (gzip > BUDGET) this.error(`initial JavaScript is ${kb(gzip)} gzip, over the budget of ${kb(BUDGET)}`);
    },
  };
}

// The console is served by Rocket at /admin/; hashed files land in assets/ (cached immutably).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/admin/',
  logLevel: 'info',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  plugins: [initialJsBudget()],
  build: {
    outDir: OUT,
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    reportCompressedSize: false,
  },
});
