/**
 * Instructions per request of Rocket's node process, counted by valgrind's callgrind: unlike req/s or CPU
 * time, the count does not move with whatever else the machine is doing (two runs of one build agree to a
 * few per cent), so a change of a few µs per request on the hot paths can be seen — and two builds can be
 * compared (`--rocket` of each). Requests go one at a time; the counters are zeroed after a warm-up and
 * dumped after the measured requests, per scenario, in one server run. The node process runs with
 * `--single-threaded` (compilation and GC on the main thread, so the count does not depend on scheduling),
 * and each window starts after a full garbage collection.
 * PostgreSQL's own work is not counted.
 *
 *   DATABASE_URL=postgres://… node --import tsx bench/instructions.ts [--rocket <main.js>] [--scenarios S1,S2,S3,S4,S5]
 *     [--warmup 2000] [--settle 8000] [--requests 1000] [--idle 0] [--out <dir>] [--cpu-prof] [--node-flags='--trace-gc …']
 *
 * `--cpu-prof` runs the same requests without valgrind under V8's sampling profiler instead and prints,
 * per scenario, where the measured window's time goes (by area and function): the count says whether a
 * build costs more, the profile says where.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type autocannon from 'autocannon';
import { formatSummary, summarise } from './profile.js';
import { type Fixture, SCENARIOS } from './scenarios.js';
import { ENTITIES, RELATIONS, seed } from './schema.js';
import { connect, freePort, jsonApi, removeDir, sleep, tempDir, urlTarget, withDatabase } from './servers.js';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    rocket: { type: 'string' },
    scenarios: { type: 'string', default: 'S1,S2,S3,S4,S5' },
    warmup: { type: 'string', default: '2000' },
    // Requests after the full collection that precedes each window: that collection deoptimizes code holding
    // objects it freed ("weak objects"), and without these the window counts V8 recompiling it (half the count).
    settle: { type: 'string', default: '8000' },
    requests: { type: 'string', default: '1000' },
    'cpu-prof': { type: 'boolean', default: false },
    // More flags for the measured node process, e.g. '--trace-gc' (its output goes to this stdout).
    'node-flags': { type: 'string', default: '' },
    // Every entity with `history: true` (issue 15: what an entry costs the node process).
    history: { type: 'boolean', default: false },
    // Seconds of an idle window measured after the scenarios: the server's timers (job sweeps, realtime
    // watch) run by wall time, and under valgrind a window of requests lasts long enough for them to count.
    idle: { type: 'string', default: '0' },
    // A directory to keep callgrind's dumps in, for callgrind_annotate (where the native part of a count goes).
    out: { type: 'string' },
  },
});
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('DATABASE_URL is required (the PostgreSQL server the measured Rocket uses)');
const WARMUP = Number(values.warmup);
const REQUESTS = Number(values.requests);
const SETTLE = Number(values.settle);
const chosen = values.scenarios!.split(',').map((s) => s.trim().toUpperCase());
const scenarios = SCENARIOS.filter((s) => chosen.includes(s.id));
if (scenarios.length !== chosen.length) throw new Error(`unknown scenario in ${values.scenarios} (S1..S6)`);
const PROFILE = values['cpu-prof'] === true;
const SERVER_HOST = '127.0.0.1';
const log = (msg: string) => process.stdout.write(`[instructions] ${msg}\n`);

/** The build to measure: the given main.js, or this checkout compiled with tsc into bench/.build/rocket. */
function rocketMain(): string {
  if (values.rocket) return resolve(values.rocket);
  const out = join(ROOT, 'bench', '.build', 'rocket');
  log('building Rocket (tsc → bench/.build/rocket)');
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json'), '--outDir', out], {
    stdio: 'inherit',
  });
  return join(out, 'main.js');
}

/** One request as autocannon would send it, sent with fetch; fails on an unexpected status. */
async function send(base: string, req: autocannon.Request, status: number): Promise<void> {
  const r = typeof req.setupRequest === 'function' ? req.setupRequest({ ...req }, {}) : req;
  const res = await fetch(`${base}${r.path}`, { method: r.method, headers: r.headers as Record<string, string>, body: r.body as string | undefined });
  await res.arrayBuffer();
  if (res.status !== status) throw new Error(`${r.method} ${r.path} answered ${res.status}, expected ${status}`);
}

/** Valgrind reads its commands only while the program runs: an idle server is woken with a request. */
async function callgrind(action: '-z' | '-d', pid: number, poke: () => Promise<unknown>): Promise<void> {
  // vgdb names its pipes after $HOST, which Rocket's own setting of that name also sets in the server's environment.
  execFileSync('callgrind_control', [action, String(pid)], { stdio: 'ignore', env: { ...process.env, HOST: SERVER_HOST } });
  await poke();
}

const gcAck = (dir: string) => join(dir, 'gc-ack');

/** Waits until the server has run its `n`th requested full collection (gc-on-signal.mjs). */
async function collected(n: number, dir: string, poke: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    await poke();
    if (existsSync(gcAck(dir)) && Number(readFileSync(gcAck(dir), 'utf8')) >= n) return;
    await sleep(50);
  }
  throw new Error(`the server did not run its full collection ${n}`);
}

/** Total instructions of the first dump of `pid` in `dir` written after `since` (ms). */
async function dumpAfter(dir: string, pid: number, since: number, poke: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 300; i++) {
    await poke();
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(`cg.${pid}`) || statSync(join(dir, name)).mtimeMs < since) continue;
      const m = /^(?:summary|totals): (\d+)/m.exec(readFileSync(join(dir, name), 'utf8'));
      if (m) return Number(m[1]);
    }
    await sleep(100);
  }
  throw new Error(
    `callgrind wrote no dump in ${dir}: ${readdirSync(dir)
      .map((n) => `${n} ${statSync(join(dir, n)).mtimeMs - since}`)
      .join(', ')}`,
  );
}

async function main(): Promise<void> {
  const main = rocketMain();
  const tag = Math.random().toString(36).slice(2, 8);
  const mgmtDb = `rocket_insn_mgmt_${tag}`;
  const app = `insn_${tag}`;
  const port = await freePort();
  const dir = await tempDir('rocket-insn-');
  const base = `http://${SERVER_HOST}:${port}`;
  const extraFlags = values['node-flags']!.split(' ').filter((f) => f !== '');
  const nodeArgs = [...extraFlags, '--single-threaded', '--expose-gc', '--import', join(import.meta.dirname, 'gc-on-signal.mjs'), main];
  const startedAt = Date.now();
  const child = spawn(
    PROFILE ? process.execPath : 'valgrind',
    PROFILE
      ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=50', ...nodeArgs]
      : ['--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${dir}/cg.%p`, process.execPath, ...nodeArgs],
    {
      env: {
        ...process.env,
        DATABASE_URL: withDatabase(databaseUrl!, mgmtDb),
        PORT: String(port),
        HOST: SERVER_HOST,
        LOG_LEVEL: 'warn',
        ROCKET_DATA_DIR: dir,
        ROCKET_CONFIG: '',
        BENCH_GC_ACK: gcAck(dir),
      },
      stdio: ['ignore', extraFlags.length > 0 ? 'inherit' : 'ignore', 'inherit'],
    },
  );
  const pid = child.pid!;
  const admin = connect(urlTarget(databaseUrl!), 'postgres', 1);
  try {
    log(`starting ${main} ${PROFILE ? 'under the CPU profiler' : 'under callgrind (slow: about a minute)'}`);
    for (let up = false; !up; ) {
      if (child.exitCode !== null) throw new Error('Rocket exited during start-up');
      up = await fetch(`${base}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (!up) await sleep(500);
    }
    const platform = await jsonApi(base, 'POST', '/api/_platform/auth/login', undefined, { email: 'platform@localhost', password: 'changeme' });
    await jsonApi(base, 'POST', '/api/_platform/apps', platform.body.data.access_token, { name: app });
    const login = async () =>
      (await jsonApi(base, 'POST', `/api/${app}/auth/login`, undefined, { email: 'admin@localhost', password: 'changeme' })).body.data
        .access_token as string;
    const token = await login();
    for (const def of ENTITIES) await jsonApi(base, 'POST', `/api/${app}/_admin/entities`, token, values.history ? { ...def, history: true } : def);
    for (const r of RELATIONS) await jsonApi(base, 'POST', `/api/${app}/_admin/relations`, token, r);
    const sql = connect(urlTarget(databaseUrl!), `rocket_${app}`, 1);
    await seed(sql, { customers: 2000, orders: 4000 }, new Date());
    const fixture: Fixture = {
      app,
      token,
      customerIds: (await sql.unsafe('SELECT id FROM customers')).map((r) => r.id as string),
      orderIds: (await sql.unsafe('SELECT id FROM orders')).map((r) => r.id as string),
      minTotal: 500,
    };
    await sql.end();

    const results: Array<{ id: string; perRequest: number; seconds: number }> = [];
    const windows: Array<{ id: string; fromMs: number; toMs: number }> = [];
    const poke = () => fetch(`${base}/health`).then((r) => r.arrayBuffer());
    let gcs = 0;
    for (const s of scenarios) {
      // A fresh token per scenario: under valgrind on a loaded machine a run can outlast an access token.
      const req = s.request({ ...fixture, token: await login() });
      for (let i = 0; i < WARMUP; i++) await send(base, req, s.status);
      // A full collection first: otherwise whether a major GC falls inside the window moves the count by ±5 %.
      gcs += 1;
      process.kill(pid, 'SIGUSR2');
      await collected(gcs, dir, poke);
      for (let i = 0; i < SETTLE; i++) await send(base, req, s.status);
      if (PROFILE) {
        const fromMs = Date.now() - startedAt;
        for (let i = 0; i < REQUESTS; i++) await send(base, req, s.status);
        windows.push({ id: s.id, fromMs, toMs: Date.now() - startedAt });
        continue;
      }
      await callgrind('-z', pid, poke);
      const windowFrom = Date.now();
      for (let i = 0; i < REQUESTS; i++) await send(base, req, s.status);
      const since = Date.now();
      await sleep(20); // file times have coarse resolution on some file systems
      await callgrind('-d', pid, poke);
      const total = await dumpAfter(dir, pid, since, poke);
      results.push({ id: s.id, perRequest: total / REQUESTS, seconds: (since - windowFrom) / 1000 });
      log(`${s.id} ${s.title}: ${Math.round(total / REQUESTS).toLocaleString('en')} instructions per request`);
    }
    if (PROFILE) {
      // The profile is written when the process exits; SIGTERM stops it gracefully.
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
      const file = readdirSync(dir).find((n) => n.endsWith('.cpuprofile'));
      if (!file) throw new Error(`no .cpuprofile in ${dir}`);
      for (const w of windows) console.log(formatSummary(w.id, await summarise(join(dir, file), ROOT, w), REQUESTS));
      return;
    }
    const idleSeconds = Number(values.idle);
    let idlePerSecond = 0;
    if (idleSeconds > 0) {
      await callgrind('-z', pid, poke);
      const from = Date.now();
      await sleep(idleSeconds * 1000);
      const since = Date.now();
      await sleep(20);
      await callgrind('-d', pid, poke);
      idlePerSecond = (await dumpAfter(dir, pid, since, poke)) / ((since - from) / 1000);
      log(`idle: ${Math.round(idlePerSecond).toLocaleString('en')} instructions per second`);
    }
    const fmt = (n: number) => Math.round(n).toLocaleString('en');
    console.log(`\n| scenario | instructions per request | window s | net of idle timers |\n|---|---:|---:|---:|`);
    for (const r of results) {
      const net = idleSeconds > 0 ? fmt(r.perRequest - (idlePerSecond * r.seconds) / REQUESTS) : '–';
      console.log(`| ${r.id} | ${fmt(r.perRequest)} | ${r.seconds.toFixed(1)} | ${net} |`);
    }
  } finally {
    child.kill('SIGKILL');
    await admin.unsafe(`DROP DATABASE IF EXISTS "rocket_${app}" WITH (FORCE)`).catch(() => undefined);
    await admin.unsafe(`DROP DATABASE IF EXISTS "${mgmtDb}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    if (values.out) cpSync(dir, resolve(values.out), { recursive: true, filter: (src) => src === dir || /\/cg\.\d/.test(src) });
    await removeDir(dir);
  }
}

await main();
