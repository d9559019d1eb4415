/**
 * Realtime benchmark (issue 14): S3 (create customer) throughput without and with 100 open
 * subscribers on the benchmark's entities, the median delay from commit to event, and the server's
 * RSS while a reader that does not read is cut off.
 *
 *   DATABASE_URL=postgres://… node --import tsx bench/realtime.ts [--seconds 10] [--connections 10] [--subscribers 100] [--pin 0]
 *
 * Rocket runs in a child process (its RSS and CPU are its own); the load and the probes run here,
 * the subscribers in a worker thread (their reading must not hold up the load's event loop). Rounds alternate "without" and "with" so drift on a shared machine hits both.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import autocannon from 'autocannon';
import type postgres from 'postgres';
import type { SubscribersMessage, SubscribersSetup } from './realtime-subscribers.js';
import { ENTITIES, RELATIONS } from './schema.js';
import {
  type ServerProcess,
  connect,
  cpuList,
  cpuMeter,
  cpuMs,
  jsonApi,
  median,
  sampleRss,
  sleep,
  startRocketFromSource,
  urlTarget,
} from './servers.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    subscribers: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '2' },
    probes: { type: 'string', default: '200' },
    // 'with' / 'without': only the runs with (or without) subscribers, e.g. to profile one side with RT_BENCH_CPU_PROF
    only: { type: 'string', default: '' },
    // CPUs Rocket is pinned to (taskset -c), as issue 20 measured; run this bench on the others.
    pin: { type: 'string' },
    // Round length in ms: the "with" side is the floor instead (bench/realtime-floor.ts): the subscribers read a
    // stand-in server that sends `floor-share` × the round's "without" rate of frames, Rocket has no stream.
    floor: { type: 'string' },
    'floor-share': { type: 'string', default: '0.9' },
  },
});
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const SUBSCRIBERS = Number(values.subscribers);
const ROUNDS = Number(values.rounds);
const PROBES = Number(values.probes);

const log = (msg: string) => process.stdout.write(`[realtime-bench] ${msg}\n`);

const api = jsonApi;

/** An SSE subscriber that records when each event (by record id) arrived. */
class Subscriber {
  readonly arrivals = new Map<string, number>();
  events = 0;
  private buffer = '';
  readonly ready: Promise<void>;
  private req: http.ClientRequest | undefined;
  res: http.IncomingMessage | undefined;

  constructor(url: string, token: string, opts: { paused?: boolean } = {}) {
    this.ready = new Promise((resolve, reject) => {
      this.req = http.get(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
        this.res = res;
        if (res.statusCode !== 200) return reject(new Error(`subscribe: ${res.statusCode}`));
        res.setEncoding('utf8');
        let readySeen = false;
        res.on('data', (chunk: string) => {
          const now = performance.now();
          this.buffer += chunk;
          for (let cut = this.buffer.indexOf('\n\n'); cut >= 0; cut = this.buffer.indexOf('\n\n')) {
            const block = this.buffer.slice(0, cut);
            this.buffer = this.buffer.slice(cut + 2);
            if (block.includes('event: ready') && !readySeen) {
              readySeen = true;
              resolve();
              if (opts.paused) res.pause();
              continue;
            }
            const data = block.split('\n').find((l) => l.startsWith('data: '));
            if (!block.includes('event: change') || !data) continue;
            this.events++;
            const m = /"id":"([^"]+)"/.exec(data);
            if (m) this.arrivals.set(m[1]!, now);
          }
        });
      });
      this.req.on('error', reject);
    });
  }

  close(): void {
    this.req?.destroy();
  }
}

/** SUBSCRIBERS streams read by a worker thread (bench/realtime-subscribers.ts); arrivals of probe events by record id. */
class Subscribers {
  readonly arrivals = new Map<string, number[]>();
  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: SubscribersMessage) => {
      if (m.type !== 'probe') return;
      const list = this.arrivals.get(m.id);
      if (list) list.push(m.at);
      else this.arrivals.set(m.id, [m.at]);
    });
  }

  static open(setup: SubscribersSetup): Promise<Subscribers> {
    // Run from source, the worker needs tsx's loader registered in its own thread.
    const ts = import.meta.url.endsWith('.ts');
    const script = new URL(`./realtime-subscribers.${ts ? 'ts' : 'js'}`, import.meta.url).href;
    const worker = ts
      ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(script)}); });`, {
          eval: true,
          workerData: setup,
        })
      : new Worker(new URL(script), { workerData: setup });
    const subs = new Subscribers(worker);
    return new Promise((resolve, reject) => {
      worker.on('error', reject);
      worker.on('message', (m: SubscribersMessage) => {
        if (m.type === 'ready') resolve(subs);
        if (m.type === 'failed') reject(new Error(m.error));
      });
    });
  }

  /**
   * Closes the streams; the change events they received, how busy the reading thread was (0–1) and the CPU
   * it used, as a fraction of one core (undefined where /proc/thread-self is not).
   */
  async close(): Promise<{ events: number; busy: number; cpu: number | undefined }> {
    const events = new Promise<{ events: number; busy: number; cpu: number | undefined }>((resolve) =>
      this.worker.on('message', (m: SubscribersMessage) => {
        if (m.type === 'closed') resolve({ events: m.events, busy: m.busy, cpu: m.cpu });
      }),
    );
    this.worker.postMessage('close');
    const n = await events;
    await this.worker.terminate();
    return n;
  }
}

function load(url: string, token: string, app: string, tag: string): Promise<autocannon.Result> {
  let n = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections: CONNECTIONS,
        duration: SECONDS,
        timeout: 10,
        requests: [
          {
            method: 'POST',
            path: `/api/${app}/customer`,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            setupRequest: (req) => ({ ...req, body: JSON.stringify({ name: `New ${++n}`, email: `rt-${tag}-${n}@example.com`, status: 'lead' }) }),
          },
        ],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

/** A load run with the CPU Rocket's process and its app-database backends spent per request. */
async function measured(server: ServerProcess, sql: postgres.Sql, app: string, run: () => Promise<autocannon.Result>) {
  const stop = await cpuMeter(server, sql, `rocket_${app}`, 'rocket');
  const result = await run();
  const cpu = await stop();
  const n = Math.max(1, result.requests.total);
  return { rps: result.requests.average, serverMs: cpu.serverMs / n, pgMs: cpu.pgMs / n };
}

const cpuText = (m: { serverMs: number; pgMs: number }) => `CPU/request server ${m.serverMs.toFixed(2)} ms + PostgreSQL ${m.pgMs.toFixed(2)} ms`;

/**
 * One "with" run against the floor: the subscribers read bench/realtime-floor.ts, which sends `rate` frames a
 * second in rounds of --floor ms, while Rocket takes the load with no stream open.
 */
async function floorRound(server: ServerProcess, sql: postgres.Sql, app: string, token: string, tag: string, rate: number) {
  const ts = import.meta.url.endsWith('.ts');
  const script = new URL(`./realtime-floor.${ts ? 'ts' : 'js'}`, import.meta.url).pathname;
  const relay = spawn(process.execPath, [...(ts ? ['--import', 'tsx'] : []), script, String(rate), String(values.floor)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<number>((resolve) => {
      createInterface({ input: relay.stdout! }).once('line', (line) => resolve(Number(line.split(' ')[1])));
    });
    const subs = await Subscribers.open({ url: `http://127.0.0.1:${port}/`, token, count: SUBSCRIBERS });
    relay.stdin!.write('start\n');
    const relayStart = cpuMs(relay.pid!);
    const wall = performance.now();
    const result = await measured(server, sql, app, () => load(server.url, token, app, tag));
    const relayCpu = (cpuMs(relay.pid!) - relayStart) / (performance.now() - wall);
    const read = await subs.close();
    return {
      ...result,
      text: `floor sent ${rate.toFixed(0)} frames/s in ${values.floor} ms rounds, ${read.events} read; the stand-in used ${(relayCpu * 100).toFixed(0)}% of a core, the reading thread ${((read.cpu ?? 0) * 100).toFixed(0)}%`,
    };
  } finally {
    relay.kill();
  }
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error('set DATABASE_URL');
  // RT_BENCH_CPU_PROF=<dir>: Rocket writes a V8 CPU profile there on exit.
  const profile = process.env.RT_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.RT_BENCH_CPU_PROF}`] : [];
  const { server, tag, drop } = await startRocketFromSource(databaseUrl, 'rtbench', profile, cpuList(values.pin));
  const base = server.url;
  const app = `rtbench_${tag}`;
  try {
    const platform = await api(base, 'POST', '/api/_platform/auth/login', undefined, { email: 'platform@localhost', password: 'changeme' });
    const platformToken = platform.body.data.access_token as string;
    const made = await api(base, 'POST', '/api/_platform/apps', platformToken, { name: app });
    if (made.status !== 201) throw new Error(`create app: ${made.status} ${JSON.stringify(made.body)}`);
    const token = (await api(base, 'POST', `/api/${app}/auth/login`, undefined, { email: 'admin@localhost', password: 'changeme' })).body.data
      .access_token as string;
    for (const e of ENTITIES)
      if ((await api(base, 'POST', `/api/${app}/_admin/entities`, token, e)).status !== 201) throw new Error(`entity ${e.name}`);
    for (const r of RELATIONS) await api(base, 'POST', `/api/${app}/_admin/relations`, token, r);
    const streamUrl = `${base}/api/${app}/_realtime?entities=customer,order,order_item`;

    // warm-up (JIT, plans) without subscribers
    await load(base, token, app, `${tag}w`);
    const without: number[] = [];
    const withSubs: number[] = [];
    const cpuWithout: Array<{ serverMs: number; pgMs: number }> = [];
    const cpuWith: Array<{ serverMs: number; pgMs: number }> = [];
    const delays: number[] = [];
    let delivered = 0;
    const appSql = connect(urlTarget(databaseUrl), `rocket_${app}`, 1);
    for (let round = 0; round < ROUNDS; round++) {
      if (values.only !== 'with') {
        const a = await measured(server, appSql, app, () => load(base, token, app, `${tag}a${round}`));
        without.push(a.rps);
        cpuWithout.push(a);
        log(`round ${round + 1}: S3 without subscribers ${a.rps.toFixed(0)} req/s; ${cpuText(a)}`);
      }
      if (values.only === 'without') continue;
      if (values.floor !== undefined) {
        const f = await floorRound(server, appSql, app, token, `${tag}f${round}`, Number(values['floor-share']) * (without.at(-1) ?? 0));
        withSubs.push(f.rps);
        cpuWith.push(f);
        log(`round ${round + 1}: S3 beside the floor ${f.rps.toFixed(0)} req/s; ${cpuText(f)}; ${f.text}`);
        continue;
      }
      const opening = performance.now();
      const subs = await Subscribers.open({ url: streamUrl, token, count: SUBSCRIBERS });
      // A stream says `ready` before the server has caught it up and added it to the live round: the
      // load starts once every stream has received a first event, i.e. with 100 streams open and live.
      const first = await api(base, 'POST', `/api/${app}/customer`, token, { name: 'probe first', email: `probe-${tag}-${round}-first@example.com` });
      const firstId = first.body.data.id as string;
      const live = performance.now() + 30_000;
      while ((subs.arrivals.get(firstId)?.length ?? 0) < SUBSCRIBERS && performance.now() < live) await sleep(5);
      if ((subs.arrivals.get(firstId)?.length ?? 0) < SUBSCRIBERS) throw new Error('the subscribers did not all receive the first event within 30 s');
      log(`round ${round + 1}: ${SUBSCRIBERS} streams opened and live in ${(performance.now() - opening).toFixed(0)} ms`);
      // The capture lease ends 30 s after the last stream closed: "without" runs after the first
      // are measured only once it has (see below), so they are truly without capture.
      const running = measured(server, appSql, app, () => load(base, token, app, `${tag}b${round}`));
      // probes during the load: a create, its answer's arrival, then each subscriber's event
      const probeDelays: number[] = [];
      const probing = (async () => {
        for (let i = 0; i < PROBES / ROUNDS; i++) {
          const res = await api(base, 'POST', `/api/${app}/customer`, token, { name: `probe ${i}`, email: `probe-${tag}-${round}-${i}@example.com` });
          const answered = performance.timeOrigin + performance.now();
          const id = res.body.data.id as string;
          const deadline = performance.now() + 5000;
          while ((subs.arrivals.get(id)?.length ?? 0) < SUBSCRIBERS && performance.now() < deadline) await sleep(2);
          for (const t of subs.arrivals.get(id) ?? []) probeDelays.push(t - answered);
          await sleep(20);
        }
      })();
      const result = await running;
      await probing;
      withSubs.push(result.rps);
      cpuWith.push(result);
      delays.push(...probeDelays);
      const read = await subs.close();
      delivered += read.events;
      log(
        `round ${round + 1}: S3 with ${SUBSCRIBERS} subscribers ${result.rps.toFixed(0)} req/s; ${cpuText(result)}; commit→event median ${median(probeDelays).toFixed(1)} ms; the subscribers' reading thread was busy ${(read.busy * 100).toFixed(0)}% of the time${read.cpu === undefined ? '' : ` and used ${(read.cpu * 100).toFixed(0)}% of a core`}`,
      );
      if (round < ROUNDS - 1) {
        log('waiting 32 s for the capture lease to lapse');
        await sleep(32_000);
      }
    }
    await appSql.end();
    const ratio = median(withSubs) / median(without);
    const cpuMedian = (xs: Array<{ serverMs: number; pgMs: number }>) => ({
      serverMs: median(xs.map((x) => x.serverMs)),
      pgMs: median(xs.map((x) => x.pgMs)),
    });
    const side = values.floor === undefined ? `with ${SUBSCRIBERS} subscribers` : `beside the floor (${SUBSCRIBERS} streams)`;
    log(`CPU per request: without ${cpuText(cpuMedian(cpuWithout))}; ${side} ${cpuText(cpuMedian(cpuWith))}`);
    log(`S3 median without ${median(without).toFixed(0)} req/s, ${side} ${median(withSubs).toFixed(0)} req/s → ratio ${ratio.toFixed(2)}`);
    if (values.floor === undefined)
      log(
        `commit→event delay (answer received → event at a subscriber): median ${median(delays).toFixed(1)} ms, p99 ${[...delays].sort((a, b) => a - b)[Math.floor(delays.length * 0.99)]?.toFixed(1)} ms over ${delays.length} deliveries; ${delivered} events delivered in total`,
      );

    if (values.only || values.floor !== undefined) return;
    // A reader that never reads: RSS while its queue fills to ROCKET_REALTIME_MAX_QUEUE (1,000), and after the cut-off.
    const slow = new Subscriber(`${base}/api/${app}/_realtime?entities=customer`, token, { paused: true });
    await slow.ready;
    const rssBefore = server.rssMb();
    const peak = sampleRss(server, 20);
    const pad = 'x'.repeat(2000);
    let sent = 0;
    let closed = false;
    slow.res!.once('close', () => (closed = true));
    const writers = Array.from({ length: 8 }, async () => {
      while (!closed && sent < 5000) {
        sent++;
        await api(base, 'POST', `/api/${app}/customer`, token, { name: `slow ${sent} ${pad}`, email: `slow-${tag}-${sent}@example.com` });
      }
    });
    await Promise.all(writers);
    const rssPeak = peak();
    await sleep(500);
    log(
      `slow reader: server RSS ${rssBefore.toFixed(0)} MB before, peak ${rssPeak.toFixed(0)} MB while up to 1,000 events (~2.2 KB each) queued, ${server.rssMb().toFixed(0)} MB after; ${sent} writes`,
    );
    slow.res!.resume();
    await sleep(1000);
    log(`slow reader stream closed by the server: ${closed || slow.res!.destroyed}`);
    slow.close();
  } finally {
    await server.stop();
    await drop([app]);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
