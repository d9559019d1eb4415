/**
 * History benchmark (issue 15): S3 (create customer), S4 (order with 3 items) and S5 (update one field
 * of a customer) against two apps of one Rocket process — the same schema, history off in one and on
 * (every entity) in the other — with rounds alternating off/on so that drift on a shared machine hits
 * both sides alike. Prints each side's median throughput, CPU per request (Rocket + its PostgreSQL
 * backends) and the on/off ratio.
 *
 *   DATABASE_URL=postgres://… node --import tsx bench/history.ts [--seconds 6] [--connections 64] [--rounds 3] [--scenarios S3,S4,S5] [--pin 0] [--bare | --trigger bare|entry | --drop-index <names>]
 */
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import type postgres from 'postgres';
import { ENTITIES, RELATIONS, seed } from './schema.js';
import { connect, cpuList, cpuMeter, jsonApi, median, startRocketFromSource, urlTarget } from './servers.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    connections: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '3' },
    scenarios: { type: 'string', default: 'S3,S4,S5' },
    // CPUs Rocket is pinned to (taskset -c), as issue 20 measured; run this bench on the others.
    pin: { type: 'string' },
    // `_history` of the "on" app without any index (no primary key either) and without its id sequence: what
    // Rocket's capture costs when the table itself costs only its heap row and WAL.
    bare: { type: 'boolean', default: false },
    // Indexes of `_history` (names, comma-separated; `_history_pkey` for the primary key) dropped in the "on"
    // app: which of them an entry's cost comes from.
    'drop-index': { type: 'string' },
    // History without Rocket's part: the "on" app records no history itself; a trigger on `customers` writes a
    // row per written row in the same transaction, so Rocket's process does exactly what it does with history
    // off. `bare`: three columns into an unindexed table; `entry`: an entry of `_history` (its indexes), with
    // the changed name (updates) or the whole row (creates) as `changes`.
    trigger: { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const ROUNDS = Number(values.rounds);
const SCENARIOS = values.scenarios!.split(',').map((s) => s.trim().toUpperCase());
for (const s of SCENARIOS) if (!['S3', 'S4', 'S5'].includes(s)) throw new Error(`unknown scenario ${s} (S3, S4, S5)`);

const log = (msg: string) => process.stdout.write(`[history-bench] ${msg}\n`);

const api = jsonApi;

interface Side {
  app: string;
  token: string;
  sql: postgres.Sql;
  customerIds: string[];
}

let counter = 0;
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

function request(scenario: string, side: Side, tag: string): autocannon.Request {
  const headers = { authorization: `Bearer ${side.token}`, 'content-type': 'application/json' };
  if (scenario === 'S3')
    return {
      method: 'POST',
      path: `/api/${side.app}/customer`,
      headers,
      setupRequest: (req) => ({
        ...req,
        body: JSON.stringify({ name: `New ${++counter}`, email: `h-${tag}-${counter}@example.com`, status: 'lead' }),
      }),
    };
  if (scenario === 'S4')
    return {
      method: 'POST',
      path: `/api/${side.app}/order`,
      headers,
      setupRequest: (req) => {
        const items = [1, 2, 3].map((k) => ({ product: `Product ${k}`, quantity: k, price: 9.99 * k }));
        return { ...req, body: JSON.stringify({ customer_id: pick(side.customerIds), total: (++counter % 100000) / 100, items: { data: items } }) };
      },
    };
  return {
    method: 'PUT',
    headers,
    setupRequest: (req) => ({
      ...req,
      path: `/api/${side.app}/customer/${pick(side.customerIds)}`,
      body: JSON.stringify({ name: `Renamed ${++counter}` }),
    }),
  };
}

function load(base: string, scenario: string, side: Side, tag: string, seconds = SECONDS): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url: base, connections: CONNECTIONS, duration: seconds, timeout: 10, requests: [request(scenario, side, tag)] }, (err, result) =>
      err ? reject(err) : resolve(result),
    );
  });
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error('set DATABASE_URL');
  const { server, tag, drop } = await startRocketFromSource(databaseUrl, 'histbench', [], cpuList(values.pin));
  const base = server.url;
  const apps = { off: `histoff_${tag}`, on: `histon_${tag}` };
  const sides = {} as Record<'off' | 'on', Side>;
  try {
    const platform = await api(base, 'POST', '/api/_platform/auth/login', undefined, { email: 'platform@localhost', password: 'changeme' });
    for (const [key, app] of Object.entries(apps) as Array<['off' | 'on', string]>) {
      const made = await api(base, 'POST', '/api/_platform/apps', platform.body.data.access_token, { name: app });
      if (made.status !== 201) throw new Error(`create app: ${made.status} ${JSON.stringify(made.body)}`);
      const token = (await api(base, 'POST', `/api/${app}/auth/login`, undefined, { email: 'admin@localhost', password: 'changeme' })).body.data
        .access_token;
      for (const e of ENTITIES) {
        const def = key === 'on' && values.trigger === undefined ? { ...e, history: true } : e;
        const r = await api(base, 'POST', `/api/${app}/_admin/entities`, token, def);
        if (r.status !== 201) throw new Error(`entity ${e.name}: ${r.status} ${JSON.stringify(r.body)}`);
      }
      for (const r of RELATIONS) await api(base, 'POST', `/api/${app}/_admin/relations`, token, r);
      const sql = connect(urlTarget(databaseUrl), `rocket_${app}`, 1);
      await seed(sql, { customers: 10_000, orders: 20_000 }, new Date());
      if (key === 'on' && values.bare) {
        const indexes = await sql.unsafe(
          `SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = '_history'::regclass AND NOT indisprimary`,
        );
        for (const i of indexes) await sql.unsafe(`DROP INDEX ${i.name as string}`);
        await sql.unsafe('ALTER TABLE _history DROP CONSTRAINT _history_pkey');
        await sql.unsafe('ALTER TABLE _history ALTER COLUMN id DROP IDENTITY, ALTER COLUMN id DROP NOT NULL');
      }
      if (key === 'on' && values['drop-index']) {
        for (const name of values['drop-index'].split(',')) {
          if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`--drop-index: not an index name: ${name}`);
          if (name === '_history_pkey') await sql.unsafe('ALTER TABLE _history DROP CONSTRAINT _history_pkey');
          else await sql.unsafe(`DROP INDEX ${name}`);
        }
      }
      if (key === 'on' && values.trigger !== undefined) {
        if (values.trigger === 'bare') {
          await sql.unsafe('CREATE TABLE bench_floor_entries (tbl text NOT NULL, record_id text, at timestamptz NOT NULL)');
          await sql.unsafe(`CREATE FUNCTION bench_floor_entry() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO bench_floor_entries VALUES (TG_TABLE_NAME, NEW.id::text, now()); RETURN NULL; END $$`);
        } else if (values.trigger === 'entry') {
          await sql.unsafe(`CREATE FUNCTION bench_floor_entry() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO _history (entity, action, actor_kind, actor_id, actor_email, at, record_id, changes)
              VALUES (TG_TABLE_NAME, lower(TG_OP), 'user', '5d1c7e0a-2b4f-4c8e-8a61-3f9d2e7b6c10', 'admin@localhost', now(), NEW.id::text,
                      CASE WHEN TG_OP = 'UPDATE' THEN jsonb_build_object('name', jsonb_build_object('from', to_jsonb(OLD.name), 'to', to_jsonb(NEW.name)))
                           ELSE to_jsonb(NEW) END);
              RETURN NULL;
            END $$`);
        } else throw new Error('--trigger: bare or entry');
        // S3 and S5 write customers only.
        await sql.unsafe('CREATE TRIGGER bench_floor AFTER INSERT OR UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION bench_floor_entry()');
      }
      const customerIds = (await sql.unsafe('SELECT id::text AS id FROM customers')).map((r) => r.id as string);
      sides[key] = { app, token, sql, customerIds };
    }
    // warm-up (JIT, plans) of both sides
    for (const s of SCENARIOS) for (const key of ['off', 'on'] as const) await load(base, s, sides[key], `${tag}w`, 2);
    const results = new Map<string, Array<{ rps: number; serverMs: number; pgMs: number }>>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of SCENARIOS) {
        // Alternate which side goes first, so neither always runs on a warmer (or more bloated) database.
        const order = round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
        for (const key of order) {
          const side = sides[key];
          const stop = await cpuMeter(server, side.sql, `rocket_${side.app}`, 'rocket');
          const result = await load(base, s, side, `${tag}${round}${key}`);
          const cpu = await stop();
          const n = Math.max(1, result.requests.total);
          const errors = result.errors + result.non2xx;
          const m = { rps: result.requests.average, serverMs: cpu.serverMs / n, pgMs: cpu.pgMs / n };
          const k = `${s} ${key}`;
          results.set(k, [...(results.get(k) ?? []), m]);
          log(
            `round ${round + 1}: ${s} history ${key.padEnd(3)} ${m.rps.toFixed(0).padStart(5)} req/s  CPU/request ${(m.serverMs * 1000).toFixed(0)} + ${(m.pgMs * 1000).toFixed(0)} µs${errors ? `  ${errors} errors` : ''}`,
          );
        }
      }
    }
    for (const s of SCENARIOS) {
      const off = results.get(`${s} off`)!;
      const on = results.get(`${s} on`)!;
      const med = (xs: typeof off, f: (x: (typeof off)[number]) => number) => median(xs.map(f));
      log(
        `${s}: history off ${med(off, (x) => x.rps).toFixed(0)} req/s (${(med(off, (x) => x.serverMs) * 1000).toFixed(0)} + ${(med(off, (x) => x.pgMs) * 1000).toFixed(0)} µs), ` +
          `on ${med(on, (x) => x.rps).toFixed(0)} req/s (${(med(on, (x) => x.serverMs) * 1000).toFixed(0)} + ${(med(on, (x) => x.pgMs) * 1000).toFixed(0)} µs) → on/off ${(med(on, (x) => x.rps) / med(off, (x) => x.rps)).toFixed(2)}`,
      );
    }
  } finally {
    await server.stop();
    for (const side of Object.values(sides)) await side.sql.end();
    await drop(Object.values(apps));
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
