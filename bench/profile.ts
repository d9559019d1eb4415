import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';

/** The parts of a V8 .cpuprofile (node --cpu-prof) this summary reads. */
interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  wallMs: number;
  busyMs: number;
  byArea: Array<{ area: string; ms: number; share: number }>;
  topSelf: Array<{ fn: string; ms: number; share: number }>;
  topInclusive: Array<{ fn: string; ms: number; share: number }>;
}

/** Which part of the process a source URL belongs to. */
export function areaOf(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return 'V8/native (program)';
  if (url === '' && /^(writeBuffer|writev|writeUtf8String|writeLatin1String|writeAsciiString)$/.test(fn)) return 'socket writes (syscalls)';
  if (url === '') return 'native';
  if (url.startsWith('node:')) return 'node core (net, streams, timers)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) {
    const pkg = m[1]!;
    if (pkg === 'postgres') return 'postgres.js driver';
    if (
      [
        'fastify',
        'find-my-way',
        'avvio',
        'light-my-request',
        'fast-querystring',
        'fast-json-stringify',
        'secure-json-parse',
        'fast-decode-uri-component',
        'toad-cache',
        'fastq',
        'process-warning',
      ].includes(pkg)
    ) {
      return 'fastify (+ router, parsers)';
    }
    return `npm: ${pkg}`;
  }
  if (/\/bench\/\.build\/bench\//.test(url) || /\/bench\/[^/.][^/]*\.ts$/.test(url)) return 'ceiling (bench code)';
  // Rocket: bench/.build/<build>/… (tsc output) or src/… (tsx).
  const rocket = /\/bench\/\.build\/[^/]+\/(.*)$/.exec(url) ?? /\/src\/(.*)$/.exec(url);
  if (rocket) return `rocket: ${rocket[1]!.split('/').slice(0, -1).join('/') || '.'}`;
  return 'other';
}

function label(frame: { functionName: string; url: string; lineNumber: number }, root: string): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const file = frame.url.startsWith('file://') ? relative(root, frame.url.slice('file://'.length)) : frame.url;
  return `${name} ${file}:${frame.lineNumber + 1}`;
}

/**
 * Self time per area and function, inclusive time per function. `window`
 * (ms since the profile started, i.e. since the process started) limits the
 * summary to the measured run, leaving out start-up and warm-up.
 */
export async function summarise(
  file: string,
  root: string,
  window: { fromMs: number; toMs: number } = { fromMs: 0, toMs: Infinity },
  top = 25,
): Promise<ProfileSummary> {
  const prof = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const area = new Map<string, number>();
  let idle = 0;
  let wall = 0;
  let at = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    at += (prof.timeDeltas[i] ?? 0) / 1000;
    if (at < window.fromMs || at > window.toMs) continue;
    const dt = (prof.timeDeltas[i + 1] ?? 0) / 1000; // a sample's time runs until the next one
    wall += dt;
    const node = byId.get(prof.samples[i]!)!;
    const fn = node.callFrame.functionName;
    if (fn === '(idle)') {
      idle += dt;
      continue;
    }
    const key = label(node.callFrame, root);
    self.set(key, (self.get(key) ?? 0) + dt);
    const a = areaOf(node.callFrame.url, fn);
    area.set(a, (area.get(a) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id)!;
      if (n.callFrame.functionName === '(root)') break;
      const k = label(n.callFrame, root);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
    }
  }
  const wallMs = wall;
  const busyMs = wallMs - idle;
  const rank = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, ms]) => ({ k, ms, share: ms / busyMs }));
  return {
    wallMs,
    busyMs,
    byArea: rank(area, 40).map(({ k, ms, share }) => ({ area: k, ms, share })),
    topSelf: rank(self, top).map(({ k, ms, share }) => ({ fn: k, ms, share })),
    topInclusive: rank(inclusive, top).map(({ k, ms, share }) => ({ fn: k, ms, share })),
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function formatSummary(title: string, s: ProfileSummary, requests: number): string {
  const lines = [
    `### ${title}`,
    '',
    `busy ${s.busyMs.toFixed(0)} ms of ${s.wallMs.toFixed(0)} ms wall; ${requests} requests → ` +
      `${((s.busyMs * 1000) / Math.max(requests, 1)).toFixed(0)} µs of server CPU per request`,
    '',
    '| area | self ms | share of busy |',
    '|---|---:|---:|',
    ...s.byArea.map((a) => `| ${a.area} | ${a.ms.toFixed(0)} | ${pct(a.share)} |`),
    '',
    '| top self time | ms | share |',
    '|---|---:|---:|',
    ...s.topSelf.map((f) => `| \`${f.fn}\` | ${f.ms.toFixed(0)} | ${pct(f.share)} |`),
    '',
    '| top inclusive time | ms | share |',
    '|---|---:|---:|',
    ...s.topInclusive.map((f) => `| \`${f.fn}\` | ${f.ms.toFixed(0)} | ${pct(f.share)} |`),
    '',
  ];
  return lines.join('\n');
}
