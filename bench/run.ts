/**
 * Rocket against the hand-written ceiling (bench/README.md).
 *
 *   npm run bench                 full run: 10,000 customers, 20,000 orders, c=16 and c=64, profile
 *   npm run bench:smoke           CI smoke: small seed, 2 s per run, no thresholds, no profile
 *   npm run bench -- --help       options
 *
 * Builds Rocket (tsc → bench/.build/rocket) and the ceiling, starts each in its
 * own process, creates and seeds the benchmark app, drives both with
 * autocannon from this process, prints the table and the Rocket/ceiling
 * ratios, and drops everything it created. Exit 1 when a run had non-2xx
 * responses, errors or timeouts, or a server crashed.
 */
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type postgres from 'postgres';
import { formatSummary, summarise } from './profile.js';
import { ENTITIES, RELATIONS, resetWrites, seed } from './schema.js';
import { CEILING_VARIANTS, SCENARIOS, type Fixture, type Scenario } from './scenarios.js';
import { TICKET, TICKET_INDEXED, largeCases, seedTickets, time, type Timing } from './large.js';
import { pgbench, pgbenchPath } from './pgbench.js';
import {
  CEILING_APPLICATION,
  ServerProcess,
  connect,
  cpuList,
  cpuMeter,
  embeddedTarget,
  freePort,
  removeDir,
  sampleRss,
  tempDir,
  urlTarget,
  withDatabase,
  type PgTarget,
} from './servers.js';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH, '..');
const BUILD = join(BENCH, '.build');
const RESULTS = join(BENCH, 'results');

const HELP = `usage: node --import tsx bench/run.ts [options]
  --smoke               small seed, short runs, no profile (what CI runs)
  --duration <s>        measured seconds per run (default 10; smoke 2)
  --warmup <s>          unmeasured seconds before each run (default 2; smoke 1)
  --rounds <n>          runs per server and scenario, alternating which server goes first;
                        the median run is reported (default 3; smoke 1)
  --concurrency <list>  connections, comma-separated (default 16,64)
  --scenarios <list>    subset of S1..S6 (default all)
  --customers <n>       seeded customers (default 10000; smoke 1000)
  --orders <n>          seeded orders, 3 items each (default 20000; smoke 2000)
  --pool <n>            pool size of both servers (default ROCKET_APP_POOL_SIZE or 10)
  --workers <n>         Rocket runs n processes (rocket start --workers, ROCKET_WORKERS; default 1);
                        its CPU and RSS are summed over them. The ceiling stays one process
  --profile <S1..S6|auto|none>  CPU-profile one scenario at the first concurrency (default auto:
                        the lowest Rocket/ceiling ratio; smoke none)
  --no-build            reuse bench/.build from an earlier run
  --rocket <main.js>    benchmark this Rocket build instead of building src/ (A/B of a change)
  --rocket-node-args <a> extra node flags for Rocket, space-separated (e.g. "--max-semi-space-size=32")
  --pin <cpus>          pin both servers to these CPUs (taskset -c, e.g. 0), as issue 20 measured; run the
                        bench itself on the others (taskset -c 1 npm run bench -- --pin 0). With the embedded
                        database, PostgreSQL (Rocket's child) is pinned too: use DATABASE_URL
  --ceiling-trials      instead of Rocket vs ceiling: every SQL variant of the ceiling per scenario
                        (rounds alternate the variants' order); prints the fastest of each
  --pgbench             also run S3's INSERT and S5's UPDATE with pgbench -M prepared (the database's
                        own limit) and report Rocket's fraction of it (default on in full runs;
                        --no-pgbench turns it off)
  --large               large-table mode only: one entity with 1,000,000 rows (--large-rows); list latency
                        before/after declared indexes, count=estimated and a keyset cursor
  --large-rows <n>      rows of the large-table mode (default 1000000)
  --history             record history on Rocket's entities (customer, order, item); the ceiling is unchanged
Uses DATABASE_URL's server when set, else Rocket's embedded PostgreSQL (own data dir and port).`;

interface Options {
  smoke: boolean;
  duration: number;
  warmup: number;
  rounds: number;
  concurrency: number[];
  scenarios: Scenario[];
  customers: number;
  orders: number;
  pool: number;
  /** Rocket processes (ROCKET_WORKERS). */
  workers: number;
  profile: string;
  build: boolean;
  rocketScript: string;
  rocketNodeArgs: string[];
  /** CPUs both servers are pinned to (`taskset -c`), or undefined. */
  pin: string | undefined;
  ceilingTrials: boolean;
  pgbench: boolean;
  large: number;
  history: boolean;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      concurrency: { type: 'string' },
      scenarios: { type: 'string' },
      customers: { type: 'string' },
      orders: { type: 'string' },
      pool: { type: 'string' },
      workers: { type: 'string' },
      profile: { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      rocket: { type: 'string' },
      'rocket-node-args': { type: 'string' },
      pin: { type: 'string' },
      'ceiling-trials': { type: 'boolean', default: false },
      pgbench: { type: 'boolean' },
      'no-pgbench': { type: 'boolean', default: false },
      large: { type: 'boolean', default: false },
      'large-rows': { type: 'string' },
      history: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const smoke = values.smoke!;
  const num = (v: string | undefined, dflt: number, name: string) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
    return n;
  };
  const ids = (values.scenarios ?? SCENARIOS.map((s) => s.id).join(',')).split(',').map((s) => s.trim().toUpperCase());
  const scenarios = ids.map((id) => {
    const s = SCENARIOS.find((x) => x.id === id);
    if (!s) throw new Error(`unknown scenario ${id} (S1..S6)`);
    return s;
  });
  const workers = Math.round(num(values.workers, 1, 'workers'));
  // node --cpu-prof would profile the cluster's primary, which serves no request.
  const profile = (values.profile ?? (smoke || workers > 1 ? 'none' : 'auto')).toUpperCase();
  if (!['AUTO', 'NONE', ...SCENARIOS.map((s) => s.id)].includes(profile)) throw new Error('--profile must be S1..S6, auto or none');
  return {
    smoke,
    duration: num(values.duration, smoke ? 2 : 10, 'duration'),
    warmup: num(values.warmup, smoke ? 1 : 2, 'warmup'),
    rounds: Math.round(num(values.rounds, smoke ? 1 : 3, 'rounds')),
    concurrency: (values.concurrency ?? '16,64').split(',').map((c) => Math.round(num(c, 16, 'concurrency'))),
    scenarios,
    customers: Math.round(num(values.customers, smoke ? 1000 : 10_000, 'customers')),
    orders: Math.round(num(values.orders, smoke ? 2000 : 20_000, 'orders')),
    pool: Math.round(num(values.pool, Number(process.env.ROCKET_APP_POOL_SIZE ?? 10), 'pool')),
    workers,
    profile: profile.toLowerCase() === 'auto' || profile.toLowerCase() === 'none' ? profile.toLowerCase() : profile,
    build: !values['no-build'],
    rocketScript: resolve(values.rocket ?? join(BUILD, 'rocket', 'main.js')),
    rocketNodeArgs: (values['rocket-node-args'] ?? '').split(' ').filter((a) => a !== ''),
    pin: cpuList(values.pin),
    ceilingTrials: values['ceiling-trials']!,
    pgbench: values['no-pgbench'] ? false : (values.pgbench ?? !smoke),
    large: values.large ? Math.round(num(values['large-rows'], 1_000_000, 'large-rows')) : 0,
    history: values.history!,
  };
}

function log(msg: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

/** Rocket as `npm start` runs it (tsc output), and the ceiling, both as plain JS. */
function build(rocket: boolean): void {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  log(rocket ? 'building Rocket (tsc → bench/.build/rocket) and the ceiling' : 'building the ceiling');
  if (rocket) {
    try {
      execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.json'), '--outDir', join(BUILD, 'rocket')], { stdio: 'inherit' });
    } catch {
      // tsc still emits on type errors (work in progress elsewhere in src/): run what was emitted.
      if (!existsSync(join(BUILD, 'rocket', 'main.js'))) throw new Error('Rocket build failed');
      log('warning: tsc reported errors in src/; benchmarking the emitted JavaScript anyway');
    }
  }
  execFileSync(process.execPath, [tsc, '-p', join(BENCH, 'tsconfig.json')], { stdio: 'inherit' });
}

interface ApiResponse {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function api(base: string, method: string, path: string, token?: string, body?: unknown): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed };
}

async function must(res: Promise<ApiResponse>, status: number, what: string): Promise<ApiResponse> {
  const r = await res;
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${JSON.stringify(r.body)}`);
  return r;
}

/** The key structure of a JSON value (types of leaves, first element of arrays). */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.length ? [shape(v[0])] : [];
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]));
  return v === null ? 'null' : typeof v;
}

interface RunResult {
  scenario: string;
  server: 'rocket' | 'ceiling';
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  rssMb: number;
  /** CPU time per request of the server process and of the PostgreSQL backends serving it, in µs. */
  serverCpuUs: number;
  pgCpuUs: number;
  /** Reads and writes (socket I/O) of the server process per request: on a virtual machine each can cost tens of µs. */
  syscalls: number;
  /** 1-minute load average when the run started (other work on the machine skews a run). */
  load: number;
  valid: boolean;
}

/** Rocket and the ceiling on one scenario and concurrency, over all rounds. */
interface Comparison {
  scenario: string;
  connections: number;
  /** The median round of each server (by req/s), with the peak RSS of all rounds and the first invalid round's counts. */
  rocket: RunResult;
  ceiling: RunResult;
  /** Median over rounds of Rocket/ceiling req/s within the round (the two runs of a round are adjacent in time). */
  ratio: number;
  /** Median over rounds of ceiling/Rocket CPU (server + PostgreSQL) per request: the req/s ratio a saturated machine would show. */
  cpuRatio: number;
  rounds: Array<{ rocket: number; ceiling: number }>;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function compare(scenario: string, connections: number, rounds: Array<Record<'rocket' | 'ceiling', RunResult>>): Comparison {
  const summary = (server: 'rocket' | 'ceiling'): RunResult => {
    const mine = rounds.map((r) => r[server]);
    const mid = [...mine].sort((x, y) => x.rps - y.rps)[Math.floor((mine.length - 1) / 2)]!;
    const invalid = mine.find((r) => !r.valid);
    return {
      ...mid,
      rssMb: Math.max(...mine.map((r) => r.rssMb)),
      valid: !invalid,
      non2xx: invalid?.non2xx ?? 0,
      errors: invalid?.errors ?? 0,
      timeouts: invalid?.timeouts ?? 0,
    };
  };
  return {
    scenario,
    connections,
    rocket: summary('rocket'),
    ceiling: summary('ceiling'),
    ratio: median(rounds.map((r) => r.rocket.rps / r.ceiling.rps)),
    cpuRatio: median(rounds.map((r) => (r.ceiling.serverCpuUs + r.ceiling.pgCpuUs) / (r.rocket.serverCpuUs + r.rocket.pgCpuUs))),
    rounds: rounds.map((r) => ({ rocket: Math.round(r.rocket.rps), ceiling: Math.round(r.ceiling.rps) })),
  };
}

function load(url: string, request: autocannon.Request, connections: number, seconds: number): Promise<autocannon.Result> {
  return new Promise((resolvePromise, reject) => {
    autocannon({ url, connections, duration: seconds, timeout: 10, requests: [request] }, (err, result) =>
      err ? reject(err) : resolvePromise(result),
    );
  });
}

interface Bench {
  opts: Options;
  rocket: ServerProcess;
  ceiling: ServerProcess;
  fixture: Fixture;
  login(): Promise<string>;
  appSql: postgres.Sql;
  seededBefore: Date;
}

/** Warm-up run, then the measured run with RSS sampling; tables reset after writes. */
async function measure(b: Bench, s: Scenario, server: ServerProcess, connections: number, seconds = b.opts.duration, variant?: string) {
  const fixture = server === b.rocket ? { ...b.fixture, token: await b.login() } : b.fixture;
  const base = s.request(fixture);
  const request = variant ? { ...base, headers: { ...base.headers, 'x-ceiling-variant': variant } } : base;
  await load(server.url, request, connections, b.opts.warmup);
  const stopRss = sampleRss(server);
  const stopCpu = await cpuMeter(server, b.appSql, `rocket_${b.fixture.app}`, server === b.rocket ? 'rocket' : CEILING_APPLICATION);
  const load1 = loadavg()[0]!;
  const startedAt = Date.now();
  const r = await load(server.url, request, connections, seconds);
  const endedAt = Date.now();
  const rssMb = stopRss();
  const cpu = await stopCpu();
  if (s.writes) await resetWrites(b.appSql, b.seededBefore);
  if (!server.alive) throw new Error(`${server.name} crashed during ${s.id}; see ${server.logFile}`);
  const result: RunResult = {
    scenario: s.id,
    server: server === b.rocket ? 'rocket' : 'ceiling',
    connections,
    rps: r.requests.total / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    rssMb,
    serverCpuUs: (cpu.serverMs * 1000) / r.requests.total,
    pgCpuUs: (cpu.pgMs * 1000) / r.requests.total,
    syscalls: cpu.serverSyscalls / r.requests.total,
    load: load1,
    valid: r.non2xx === 0 && r.errors === 0 && r.timeouts === 0 && r.requests.total > 0,
  };
  return { result, startedAt, endedAt };
}

/** One request per scenario to each server: both must answer the expected status with the same JSON shape. */
async function preflight(b: Bench): Promise<string[]> {
  const problems: string[] = [];
  const token = await b.login();
  for (const s of b.opts.scenarios) {
    const shapes: string[] = [];
    for (const server of [b.rocket, b.ceiling]) {
      const req = s.request({ ...b.fixture, token });
      const setup = req.setupRequest as ((r: autocannon.Request, ctx: object) => autocannon.Request) | undefined;
      const built = setup ? setup(req, {}) : req;
      const res = await api(server.url, built.method!, built.path!, token, built.body ? JSON.parse(String(built.body)) : undefined);
      if (res.status !== s.status) problems.push(`${s.id} ${server.name}: status ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
      shapes.push(JSON.stringify(shape(res.body)));
    }
    if (shapes[0] !== shapes[1]) problems.push(`${s.id}: response shapes differ\n  rocket:  ${shapes[0]}\n  ceiling: ${shapes[1]}`);
  }
  await resetWrites(b.appSql, b.seededBefore);
  return problems;
}

const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '–');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');

function table(opts: Options, comparisons: Comparison[]): string {
  const out: string[] = [];
  const flag = (x: RunResult) => (x.valid ? '' : ` ⚠ invalid (non-2xx ${x.non2xx}, errors ${x.errors}, timeouts ${x.timeouts})`);
  for (const c of opts.concurrency) {
    out.push(
      '',
      `**c=${c}**`,
      '',
      '| scenario | Rocket req/s | p50 ms | p99 ms | RSS MB | CPU µs/req node + pg | ceiling req/s | p50 ms | p99 ms | RSS MB | CPU µs/req node + pg | Rocket/ceiling req/s | by CPU |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const s of opts.scenarios) {
      const cmp = comparisons.find((x) => x.scenario === s.id && x.connections === c);
      if (!cmp) continue;
      const { rocket: r, ceiling: k, ratio } = cmp;
      const cpu = (x: RunResult) => `${f0(x.serverCpuUs)} + ${f0(x.pgCpuUs)}`;
      out.push(
        `| ${s.id} ${s.title} | ${f0(r.rps)}${flag(r)} | ${f1(r.p50)} | ${f1(r.p99)} | ${f0(r.rssMb)} | ${cpu(r)} | ` +
          `${f0(k.rps)}${flag(k)} | ${f1(k.p50)} | ${f1(k.p99)} | ${f0(k.rssMb)} | ${cpu(k)} | ` +
          `**${ratio.toFixed(2)}**${!opts.smoke && c === 16 && ratio < 0.8 ? ' (< 0.8)' : ''} | ${cmp.cpuRatio.toFixed(2)} |`,
      );
    }
  }
  out.push(
    '',
    (opts.rounds > 1
      ? 'req/s, p50, p99, CPU: the median round of each server; ratios: medians of the per-round ratios (rounds alternate which server runs first). '
      : '') +
      "CPU µs/req: user + system time of the server's node processes (every worker) and of the PostgreSQL backends of its pool, per request; " +
      '"by CPU" = ceiling CPU / Rocket CPU per request, the req/s ratio of a saturated machine, little moved by other load. ' +
      'non-2xx: 0 in every run unless flagged.',
  );
  return out.join('\n');
}

/**
 * Every SQL variant of the ceiling per scenario and concurrency, rounds rotating the variants'
 * order; the fastest median is the ceiling's SQL (DEFAULT_VARIANT in ceiling.ts).
 */
async function ceilingTrials(b: Bench, machine: string): Promise<string> {
  const out = [
    `Ceiling SQL trials — ${new Date().toISOString().slice(0, 10)} — ${machine}`,
    `${b.opts.duration} s per run after ${b.opts.warmup} s warm-up, median of ${b.opts.rounds} round(s)`,
    '',
    '| scenario | c | variant: median req/s (CPU µs/req node + pg) | fastest |',
    '|---|---:|---|---|',
  ];
  for (const c of b.opts.concurrency) {
    for (const s of b.opts.scenarios) {
      const variants = CEILING_VARIANTS[s.id as keyof typeof CEILING_VARIANTS];
      const runs = new Map<string, RunResult[]>(variants.map((v) => [v, []]));
      for (let round = 0; round < b.opts.rounds; round++) {
        const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
        for (const v of order) {
          const { result } = await measure(b, s, b.ceiling, c, b.opts.duration, v);
          if (!result.valid) throw new Error(`${s.id} variant ${v}: non-2xx ${result.non2xx}, errors ${result.errors}`);
          runs.get(v)!.push(result);
          log(
            `${s.id} c=${c} ceiling[${v}] ${f0(result.rps)} req/s  CPU/req ${f0(result.serverCpuUs)} + ${f0(result.pgCpuUs)} µs  load ${result.load.toFixed(1)}`,
          );
        }
      }
      const med = variants.map((v) => {
        const list = [...runs.get(v)!].sort((x, y) => x.rps - y.rps);
        return { v, mid: list[Math.floor((list.length - 1) / 2)]! };
      });
      const best = [...med].sort((x, y) => y.mid.rps - x.mid.rps)[0]!;
      out.push(
        `| ${s.id} | ${c} | ${med.map(({ v, mid }) => `${v}: ${f0(mid.rps)} (${f0(mid.serverCpuUs)} + ${f0(mid.pgCpuUs)})`).join('; ')} | **${best.v}** |`,
      );
    }
  }
  const text = out.join('\n');
  console.log(`\n${text}\n`);
  return text;
}

/** Large-table mode: see large.ts. */
async function runLarge(opts: Options, url: string, app: string, token: string, appSql: postgres.Sql, stamp: string): Promise<void> {
  const rows = opts.large;
  await must(api(url, 'POST', `/api/${app}/_admin/entities`, token, TICKET), 201, 'entity ticket');
  log(`seeding ${rows} tickets`);
  let t0 = Date.now();
  await seedTickets(appSql, rows);
  log(`seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const cases = largeCases(rows);
  const n = opts.smoke ? 3 : 20;
  const get = async (query: string) => {
    const r = await api(url, 'GET', `/api/${app}/ticket?${query}`, token);
    if (r.status !== 200) throw new Error(`GET ticket?${query}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    return r.body;
  };
  const before = new Map<string, Timing>();
  for (const c of cases) {
    before.set(c.id, await time(async () => void (await get(c.before)), n, 1));
    log(`${c.id} before: median ${f1(before.get(c.id)!.median)} ms`);
  }
  t0 = Date.now();
  await must(api(url, 'PUT', `/api/${app}/_admin/entities/ticket`, token, TICKET_INDEXED), 200, 'declare indexes');
  const buildSeconds = (Date.now() - t0) / 1000;
  log(`indexes declared (built CONCURRENTLY) in ${buildSeconds.toFixed(1)} s`);
  const deep = cases.find((c) => c.id === 'L4')!;
  const cursor = (await get(deep.before)).meta.next_cursor as string;
  const after = new Map<string, Timing>();
  for (const c of cases) {
    const q = c.after.replace('{cursor}', encodeURIComponent(cursor));
    after.set(c.id, await time(async () => void (await get(q)), n, 3));
    log(`${c.id} after: median ${f1(after.get(c.id)!.median)} ms`);
  }
  const lines = [
    `Large table — ${new Date().toISOString().slice(0, 10)} — ${rows} rows in one entity; ${n} sequential requests per cell (latency ms, whole HTTP request)`,
    '',
    `Declaring the indexes (PUT /_admin/entities/ticket: subject and created_at index: true, (status, created_at)) took ${buildSeconds.toFixed(1)} s (CREATE INDEX CONCURRENTLY).`,
    '',
    '| case | before: request | median | p95 | after: request | median | p95 |',
    '|---|---|---:|---:|---|---:|---:|',
    ...cases.map((c) => {
      const b0 = before.get(c.id)!;
      const a0 = after.get(c.id)!;
      return `| ${c.id} ${c.title} | \`${decodeURIComponent(c.before)}\` | ${f1(b0.median)} | ${f1(b0.p95)} | \`${decodeURIComponent(c.after).replace('{cursor}', '…')}\` | **${f1(a0.median)}** | ${f1(a0.p95)} |`;
    }),
  ];
  const text = lines.join('\n');
  console.log(`\n${text}\n`);
  await writeFile(join(RESULTS, `large-${stamp}.md`), text);
  log(`results in bench/results/large-${stamp}.md`);
}

async function main(): Promise<number> {
  const opts = options();
  const began = Date.now();
  await mkdir(RESULTS, { recursive: true });
  for (const name of ['rocket.log', 'ceiling.log']) await writeFile(join(RESULTS, name), '');
  if (opts.build) build(opts.rocketScript === join(BUILD, 'rocket', 'main.js'));

  const cleanups: Array<() => Promise<unknown>> = [];
  let exitCode = 0;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    log('interrupted: cleaning up');
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const databaseUrl = process.env.DATABASE_URL || undefined;
  const tag = Math.random().toString(36).slice(2, 8);
  try {
    const dataDir = await tempDir('rocket-bench-');
    cleanups.push(() => removeDir(dataDir));
    const mgmtDb = `rocket_bench_mgmt_${tag}`;
    const rocketPort = await freePort();
    const pgPort = await freePort();
    const rocketEnv: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(rocketPort),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ROCKET_DATA_DIR: dataDir,
      ROCKET_CONFIG: '',
      ROCKET_APP_POOL_SIZE: String(opts.pool),
      ROCKET_WORKERS: String(opts.workers),
      ROCKET_EMBEDDED_PG_PORT: String(pgPort),
    };
    delete rocketEnv.DATABASE_URL;
    if (databaseUrl) rocketEnv.DATABASE_URL = withDatabase(databaseUrl, mgmtDb);
    const startRocket = (nodeArgs: string[] = []) =>
      ServerProcess.start({
        name: 'rocket',
        script: opts.rocketScript,
        env: rocketEnv,
        port: rocketPort,
        logFile: join(RESULTS, 'rocket.log'),
        nodeArgs: [...opts.rocketNodeArgs, ...nodeArgs],
        cpus: opts.pin,
      });

    log(
      `starting Rocket${opts.workers > 1 ? ` with ${opts.workers} workers` : ''} on :${rocketPort} (${databaseUrl ? `DATABASE_URL, management db ${mgmtDb}` : `embedded PostgreSQL on :${pgPort}`})`,
    );
    let rocket = await startRocket();
    cleanups.push(() => rocket.stop());
    const pg: PgTarget = databaseUrl ? urlTarget(databaseUrl) : await embeddedTarget(dataDir, pgPort);
    if (databaseUrl) {
      // Runs after Rocket has stopped (cleanups run last-in first-out).
      cleanups.splice(cleanups.length - 1, 0, async () => {
        const admin = connect(pg, 'postgres', 1);
        await admin.unsafe(`DROP DATABASE IF EXISTS "${mgmtDb}" WITH (FORCE)`).finally(() => admin.end());
      });
    }

    const platform = await must(
      api(rocket.url, 'POST', '/api/_platform/auth/login', undefined, { email: 'platform@localhost', password: 'changeme' }),
      200,
      'platform login',
    );
    const platformToken: string = platform.body.data.access_token;
    const app = `bench_${tag}`;
    await must(api(rocket.url, 'POST', '/api/_platform/apps', platformToken, { name: app }), 201, 'create app');
    cleanups.push(async () => {
      const r = await api(rocket.url, 'DELETE', `/api/_platform/apps/${app}`, platformToken).catch(() => undefined);
      if (r?.status === 200) return;
      const admin = connect(pg, 'postgres', 1);
      await admin.unsafe(`DROP DATABASE IF EXISTS "rocket_${app}" WITH (FORCE)`).finally(() => admin.end());
    });
    const login = async () =>
      (await must(api(rocket.url, 'POST', `/api/${app}/auth/login`, undefined, { email: 'admin@localhost', password: 'changeme' }), 200, 'app login'))
        .body.data.access_token as string;
    const adminToken = await login();
    if (opts.large) {
      const appSql = connect(pg, `rocket_${app}`);
      cleanups.push(() => appSql.end({ timeout: 5 }));
      await runLarge(opts, rocket.url, app, adminToken, appSql, stamp);
      return 0;
    }
    for (const e of ENTITIES) {
      const def = opts.history ? { ...e, history: true } : e;
      await must(api(rocket.url, 'POST', `/api/${app}/_admin/entities`, adminToken, def), 201, `entity ${e.name}`);
    }
    for (const r of RELATIONS) await must(api(rocket.url, 'POST', `/api/${app}/_admin/relations`, adminToken, r), 201, `relation ${r.name}`);

    const appSql = connect(pg, `rocket_${app}`);
    cleanups.push(() => appSql.end({ timeout: 5 }));
    const seededBefore = new Date();
    log(`seeding ${opts.customers} customers, ${opts.orders} orders, ${opts.orders * 3} items`);
    const seedStart = Date.now();
    await seed(appSql, { customers: opts.customers, orders: opts.orders }, seededBefore);
    log(`seeded in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);
    const sample = async (table: string) => (await appSql.unsafe(`SELECT id FROM ${table} ORDER BY random() LIMIT 2000`)).map((r) => r.id as string);
    const fixture: Fixture = {
      app,
      token: adminToken,
      customerIds: await sample('customers'),
      orderIds: await sample('orders'),
      minTotal: 500,
    };
    const [{ version }] = (await appSql.unsafe('SELECT version()')) as unknown as [{ version: string }];

    const ceilingPort = await freePort();
    const ceilingEnv: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(ceilingPort),
      PGHOST: pg.host,
      PGPORT: String(pg.port),
      PGUSER: pg.user,
      PGPASSWORD: pg.password ?? '',
      PGDATABASE: `rocket_${app}`,
      POOL_SIZE: String(opts.pool),
    };
    const startCeiling = (nodeArgs: string[] = []) =>
      ServerProcess.start({
        name: 'ceiling',
        script: join(BUILD, 'bench', 'ceiling.js'),
        env: ceilingEnv,
        port: ceilingPort,
        logFile: join(RESULTS, 'ceiling.log'),
        nodeArgs,
        cpus: opts.pin,
      });
    let ceiling = await startCeiling();
    cleanups.push(() => ceiling.stop());

    const b: Bench = { opts, rocket, ceiling, fixture, login, appSql, seededBefore };
    const problems = await preflight(b);
    if (problems.length) {
      console.error(`preflight failed:\n${problems.join('\n')}`);
      return 1;
    }

    // Before any measured load: issue 20 compares the servers' memory right after start (one app) as well as at peak.
    const startRss = { rocket: rocket.rssMb(), ceiling: ceiling.rssMb() };
    log(`RSS after start (one app, seeded, preflight done): Rocket ${f0(startRss.rocket)} MB, ceiling ${f0(startRss.ceiling)} MB`);
    const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${version.split(',')[0]} (${databaseUrl ? 'DATABASE_URL' : 'embedded'})`;
    log(machine);
    if (opts.ceilingTrials) {
      const text = await ceilingTrials(b, machine);
      await writeFile(join(RESULTS, `trials-${stamp}.md`), text);
      log(`results in bench/results/trials-${stamp}.md`);
      return 0;
    }
    const comparisons: Comparison[] = [];
    for (const c of opts.concurrency) {
      for (const s of opts.scenarios) {
        const rounds: Array<Record<'rocket' | 'ceiling', RunResult>> = [];
        for (let round = 0; round < opts.rounds; round++) {
          const pair: Partial<Record<'rocket' | 'ceiling', RunResult>> = {};
          for (const server of round % 2 === 0 ? [rocket, ceiling] : [ceiling, rocket]) {
            if (interrupted) throw new Error('interrupted');
            const { result } = await measure(b, s, server, c);
            pair[result.server] = result;
            log(
              `${s.id} c=${c} ${server.name.padEnd(7)} ${f0(result.rps).padStart(6)} req/s  p50 ${f1(result.p50)} ms  p99 ${f1(result.p99)} ms  ` +
                `RSS ${f0(result.rssMb)} MB  CPU/req ${f0(result.serverCpuUs)} + ${f0(result.pgCpuUs)} µs  syscalls/req ${f1(result.syscalls)}  load ${result.load.toFixed(1)}` +
                (result.valid ? '' : `  INVALID: non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}`),
            );
          }
          rounds.push(pair as Record<'rocket' | 'ceiling', RunResult>);
        }
        const cmp = compare(s.id, c, rounds);
        comparisons.push(cmp);
        if (!cmp.rocket.valid || !cmp.ceiling.valid) exitCode = 1;
      }
    }
    let pgbenchText = '';
    const bin = pgbenchPath();
    const writes = opts.scenarios.filter((s) => s.id === 'S3' || s.id === 'S5');
    if (opts.pgbench && writes.length && !interrupted) {
      if (!bin) {
        pgbenchText = '\npgbench: not found; no database limit measured.';
      } else {
        const lines = [
          '',
          "**Rocket against the database's own limit** (`pgbench -M prepared`, same statement, no HTTP):",
          '',
          '| scenario | c | pgbench tps | Rocket req/s | Rocket / pgbench | ceiling / pgbench |',
          '|---|---:|---:|---:|---:|---:|',
        ];
        for (const c of opts.concurrency) {
          for (const s of writes) {
            const tps = await pgbench(bin, pg, `rocket_${app}`, s.id as 'S3' | 'S5', c, opts.duration, opts.customers, RESULTS);
            await resetWrites(appSql, seededBefore);
            const cmp = comparisons.find((x) => x.scenario === s.id && x.connections === c)!;
            log(`pgbench ${s.id} c=${c}: ${f0(tps)} tps`);
            lines.push(
              `| ${s.id} | ${c} | ${f0(tps)} | ${f0(cmp.rocket.rps)} | **${(cmp.rocket.rps / tps).toFixed(2)}** | ${(cmp.ceiling.rps / tps).toFixed(2)} |`,
            );
          }
        }
        pgbenchText = lines.join('\n');
      }
    }
    const report = [
      `Rocket vs ceiling — ${new Date().toISOString().slice(0, 10)} — ${machine}`,
      `seed ${opts.customers} customers / ${opts.orders} orders / ${opts.orders * 3} items; ${opts.duration} s per run after ${opts.warmup} s warm-up; ` +
        `median of ${opts.rounds} round(s); pool ${opts.pool}${opts.workers > 1 ? ` per process; Rocket ${opts.workers} workers` : ''}; RSS = peak${opts.pin ? `; both servers pinned to CPU ${opts.pin}` : ''}`,
      `RSS after start (one app, before the first run): Rocket ${f0(startRss.rocket)} MB, ceiling ${f0(startRss.ceiling)} MB`,
      table(opts, comparisons),
      pgbenchText,
    ].join('\n');
    console.log(`\n${report}\n`);

    let profileText = '';
    const first = opts.concurrency[0]!;
    const ratios = opts.scenarios.map((s) => ({ s, ratio: comparisons.find((x) => x.scenario === s.id && x.connections === first)!.ratio }));
    const target =
      opts.profile === 'none'
        ? undefined
        : opts.profile === 'auto'
          ? ratios.sort((a, b2) => a.ratio - b2.ratio)[0]?.s
          : SCENARIOS.find((s) => s.id === opts.profile);
    if (target && !interrupted) {
      log(`profiling ${target.id} at c=${first} (node --cpu-prof), Rocket then ceiling`);
      const profDir = join(RESULTS, `profile-${stamp}`);
      await mkdir(profDir, { recursive: true });
      for (const which of ['rocket', 'ceiling'] as const) {
        const args = ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-name', `${which}-${target.id}.cpuprofile`];
        let server: ServerProcess;
        const spawnedAt = Date.now(); // ≈ when the profile's clock starts
        if (which === 'rocket') {
          await rocket.stop();
          rocket = b.rocket = server = await startRocket(args);
        } else {
          await ceiling.stop();
          ceiling = b.ceiling = server = await startCeiling(args);
        }
        const { result, startedAt, endedAt } = await measure(b, target, server, first);
        await server.stop();
        if (which === 'rocket') {
          // Back up without the profiler so the app can be dropped through the API.
          rocket = b.rocket = await startRocket();
        }
        const summary = await summarise(join(profDir, `${which}-${target.id}.cpuprofile`), ROOT, {
          fromMs: startedAt - spawnedAt,
          toMs: endedAt - spawnedAt,
        });
        profileText += `${formatSummary(`${which}, ${target.id} at c=${first} (${f0(result.rps)} req/s under the profiler)`, summary, result.requests)}\n`;
      }
      if (ceiling.alive === false) ceiling = b.ceiling = await startCeiling();
      console.log(profileText);
      console.log(`profiles: ${profDir} (open in Chrome DevTools → Performance, or speedscope)`);
    }

    const elapsed = ((Date.now() - began) / 1000).toFixed(0);
    await writeFile(join(RESULTS, `run-${stamp}.md`), `${report}\n\n${profileText}`);
    await writeFile(
      join(RESULTS, `run-${stamp}.json`),
      JSON.stringify({ opts: { ...opts, scenarios: opts.scenarios.map((s) => s.id) }, machine, comparisons }, null, 2),
    );
    log(`done in ${elapsed} s; results in bench/results/run-${stamp}.md`);
    if (exitCode !== 0) console.error('INVALID: at least one run had non-2xx responses, errors or timeouts');
    return exitCode;
  } catch (err) {
    console.error(`bench failed: ${(err as Error).stack ?? String(err)}`);
    return 1;
  } finally {
    for (const fn of cleanups.reverse()) {
      await fn().catch((err: unknown) => console.error(`cleanup: ${(err as Error).message}`));
    }
  }
}

process.exitCode = await main();
