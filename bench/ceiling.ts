/**
 * The ceiling: a hand-written server for exactly the six benchmark requests,
 * on the same tables, with the same driver (postgres.js), pool size, type
 * parsers and HTTP framework (Fastify 5) as Rocket, and the same response
 * envelopes. No metadata, no registry, no auth (it does not check the bearer
 * token), and the least SQL a careful hand-writer would send. Whatever Rocket
 * does beyond this is its own cost.
 *
 * Env: PORT, PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, POOL_SIZE.
 */
import { createHmac } from 'node:crypto';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import postgres from 'postgres';
import { CUSTOMER_STATUSES, ORDER_STATUSES } from './schema.js';
import { CEILING_APPLICATION } from './servers.js';
import type { CEILING_VARIANTS } from './scenarios.js';

const env = process.env;
const options = {
  host: env.PGHOST ?? '127.0.0.1',
  port: Number(env.PGPORT ?? 5432),
  user: env.PGUSER ?? 'postgres',
  password: env.PGPASSWORD || undefined,
  database: env.PGDATABASE,
  max: Number(env.POOL_SIZE ?? 10),
  idle_timeout: 60,
  connect_timeout: 10,
  onnotice: () => undefined,
  connection: { TimeZone: 'UTC', application_name: CEILING_APPLICATION },
  // Same value encoding as Rocket: decimals and bigints as JSON numbers.
  types: {
    numeric: { to: 1700, from: [1700], serialize: (v: unknown) => String(v), parse: (v: string) => Number(v) },
    int8: { to: 20, from: [20], serialize: (v: unknown) => String(v), parse: (v: string) => Number(v) },
  },
};
// Named prepared statements (postgres.js's default) and unnamed ones (parsed and planned every time).
const prepared = postgres(options);
const unprepared = postgres({ ...options, prepare: false });
const sql = prepared;

/** The winners of the trials recorded in bench/RESULTS.md. */
const DEFAULT_VARIANT: Record<keyof typeof CEILING_VARIANTS, string> = {
  S1: 'one',
  S2: 'prepared',
  S3: 'prepared',
  S4: 'prepared',
  S5: 'prepared',
  S6: 'one',
};

function variant(req: FastifyRequest, scenario: string): { two: boolean; tie: boolean; db: postgres.Sql } {
  const header = req.headers['x-ceiling-variant'];
  const flags = (typeof header === 'string' ? header : DEFAULT_VARIANT[scenario as keyof typeof CEILING_VARIANTS]).split(',');
  return { two: flags.includes('two'), tie: !flags.includes('notie'), db: flags.includes('unprepared') ? unprepared : prepared };
}

// The list contract has a keyset cursor after the page's last row: its sort values and an HMAC.
const CURSOR_KEY = createHmac('sha256', 'ceiling').update('cursor').digest();
function cursorOf(values: unknown[]): string {
  const payload = Buffer.from(JSON.stringify(values)).toString('base64url');
  return `${payload}.${createHmac('sha256', CURSOR_KEY).update(payload).digest('base64url').slice(0, 22)}`;
}

const CUSTOMER = sql.unsafe('id, name, email, status, created_at, updated_at');
const ORDER = sql.unsafe('id, customer_id, status, total, created_at, updated_at');
const ITEM = sql.unsafe('id, order_id, product, quantity, price, created_at, updated_at');

type Row = Record<string, unknown>;
type Body = Record<string, unknown> | undefined;
type Query = Record<string, string | undefined>;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isString = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isMoney = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function fail(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.status(status).send({ error: { code, message } });
}

function page(q: Query): { page: number; perPage: number } {
  const p = Number(q.page);
  const pp = Number(q.per_page);
  return { page: Number.isInteger(p) && p >= 1 ? p : 1, perPage: Number.isInteger(pp) && pp >= 1 ? Math.min(pp, 100) : 25 };
}

/** Attaches each order's items: one query for the whole page. */
async function withItems(orders: Row[], db: postgres.Sql = sql): Promise<Row[]> {
  if (orders.length === 0) return orders;
  const items = await db<Row[]>`SELECT ${ITEM} FROM order_items WHERE order_id = ANY(${orders.map((o) => o.id as string)}::uuid[])`;
  const byOrder = new Map<unknown, Row[]>();
  for (const item of items) {
    const list = byOrder.get(item.order_id);
    if (list) list.push(item);
    else byOrder.set(item.order_id, [item]);
  }
  for (const o of orders) o.items = byOrder.get(o.id) ?? [];
  return orders;
}

/** The list envelope from a page fetched with one extra row (which says whether a next cursor exists). */
function listOf(rows: Row[], total: number, p: { page: number; perPage: number }, key: (row: Row) => unknown[]) {
  const more = rows.length > p.perPage;
  const data = more ? rows.slice(0, p.perPage) : rows;
  const last = data[data.length - 1];
  return { data, meta: { page: p.page, per_page: p.perPage, total, next_cursor: more && last ? cursorOf(key(last)) : null } };
}

/** Splits a count-plus-page row set (one-statement variant) into the total and the rows. */
function split(rows: Row[]): { total: number; rows: Row[] } {
  const total = Number(rows[0]?.n ?? 0);
  const out: Row[] = [];
  for (const { n: _n, ...row } of rows) if (row.id !== null) out.push(row);
  return { total, rows: out };
}

const app = Fastify({ logger: false });

app.get('/health', async () => ({ status: 'ok' }));

// S1: customers by status, newest first, with the total. S6: orders by minimum total with their items.
// Either one statement (count and page together) or two in parallel, per the variant.
app.get<{ Params: { entity: string }; Querystring: Query }>('/api/:app/:entity', async (req, reply) => {
  const q = req.query;
  const p = page(q);
  const offset = (p.page - 1) * p.perPage;
  const limit = p.perPage + 1;
  if (req.params.entity === 'customer') {
    const status = q['filter[status]'];
    if (status === undefined || !(CUSTOMER_STATUSES as readonly string[]).includes(status)) {
      return fail(reply, 400, 'INVALID_PAYLOAD', 'filter[status] is required');
    }
    const v = variant(req, 'S1');
    const db = v.db;
    const order = v.tie ? db`ORDER BY created_at DESC, id DESC` : db`ORDER BY created_at DESC`;
    const key = (r: Row) => [(r.created_at as Date).toISOString(), r.id];
    if (v.two) {
      const [rows, [c]] = await Promise.all([
        db<Row[]>`SELECT ${CUSTOMER} FROM customers WHERE status = ${status} ${order} LIMIT ${limit} OFFSET ${offset}`,
        db<Row[]>`SELECT count(*) AS n FROM customers WHERE status = ${status}`,
      ]);
      return listOf(rows, Number(c!.n), p, key);
    }
    const r = split(
      await db<Row[]>`
        SELECT c.n, p.* FROM (SELECT count(*) AS n FROM customers WHERE status = ${status}) c
        LEFT JOIN LATERAL (SELECT ${CUSTOMER} FROM customers WHERE status = ${status} ${order} LIMIT ${limit} OFFSET ${offset}) p ON true`,
    );
    return listOf(r.rows, r.total, p, key);
  }
  if (req.params.entity === 'order') {
    const min = Number(q['filter[total.gte]']);
    if (!Number.isFinite(min)) return fail(reply, 400, 'INVALID_PAYLOAD', 'filter[total.gte] must be a number');
    const v = variant(req, 'S6');
    const db = v.db;
    // Pages in key order, so the cursor can continue after the last row.
    const key = (r: Row) => [r.id];
    let list: ReturnType<typeof listOf>;
    if (v.two) {
      const [rows, [c]] = await Promise.all([
        db<Row[]>`SELECT ${ORDER} FROM orders WHERE total >= ${min} ORDER BY id LIMIT ${limit} OFFSET ${offset}`,
        db<Row[]>`SELECT count(*) AS n FROM orders WHERE total >= ${min}`,
      ]);
      list = listOf(rows, Number(c!.n), p, key);
    } else {
      const r = split(
        await db<Row[]>`
          SELECT c.n, p.* FROM (SELECT count(*) AS n FROM orders WHERE total >= ${min}) c
          LEFT JOIN LATERAL (SELECT ${ORDER} FROM orders WHERE total >= ${min} ORDER BY id LIMIT ${limit} OFFSET ${offset}) p ON true`,
      );
      list = listOf(r.rows, r.total, p, key);
    }
    await withItems(list.data, db);
    return list;
  }
  return fail(reply, 404, 'UNKNOWN_ENTITY', `Unknown entity: ${req.params.entity}`);
});

// S2: one order with its items — two round trips (the order decides the 404).
app.get<{ Params: { entity: string; id: string } }>('/api/:app/order/:id', async (req, reply) => {
  const id = req.params.id;
  const { db } = variant(req, 'S2');
  const [order] = UUID_RE.test(id) ? await db<Row[]>`SELECT ${ORDER} FROM orders WHERE id = ${id}` : [];
  if (!order) return fail(reply, 404, 'NOT_FOUND', `order with id ${id} not found`);
  await withItems([order], db);
  return { data: order };
});

// S3: create a customer — one INSERT … RETURNING (a single statement needs no explicit transaction).
app.post<{ Body: Body }>('/api/:app/customer', async (req, reply) => {
  const b = req.body ?? {};
  const status = b.status ?? 'active';
  if (!isString(b.name) || !isString(b.email) || !(CUSTOMER_STATUSES as readonly unknown[]).includes(status)) {
    return fail(reply, 422, 'VALIDATION_FAILED', 'Validation failed');
  }
  const now = new Date();
  const { db } = variant(req, 'S3');
  try {
    const [row] = await db<Row[]>`
      INSERT INTO customers (name, email, status, created_at, updated_at)
      VALUES (${b.name}, ${b.email}, ${status as string}, ${now}, ${now}) RETURNING ${CUSTOMER}`;
    return reply.status(201).send({ data: row });
  } catch (err) {
    if ((err as { code?: string }).code === '23505') return fail(reply, 409, 'CONFLICT', 'A record with this value already exists');
    throw err;
  }
});

// S4: an order with its items — one statement (a data-modifying CTE is atomic on its own).
app.post<{ Body: Body }>('/api/:app/order', async (req, reply) => {
  const b = req.body ?? {};
  const status = b.status ?? 'new';
  const items = (b.items as { data?: unknown } | undefined)?.data;
  if (
    typeof b.customer_id !== 'string' ||
    !UUID_RE.test(b.customer_id) ||
    !isMoney(b.total) ||
    !(ORDER_STATUSES as readonly unknown[]).includes(status) ||
    !Array.isArray(items)
  ) {
    return fail(reply, 422, 'VALIDATION_FAILED', 'Validation failed');
  }
  const product: string[] = [];
  const quantity: number[] = [];
  const price: number[] = [];
  for (const it of items as Array<Record<string, unknown>>) {
    if (!isString(it?.product) || !Number.isInteger(it.quantity) || !isMoney(it.price)) {
      return fail(reply, 422, 'VALIDATION_FAILED', 'Validation failed');
    }
    product.push(it.product);
    quantity.push(it.quantity as number);
    price.push(it.price);
  }
  const now = new Date();
  const { db } = variant(req, 'S4');
  const [row] = await db<Row[]>`
    WITH o AS (
      INSERT INTO orders (customer_id, status, total, created_at, updated_at)
      VALUES (${b.customer_id}, ${status as string}, ${b.total}, ${now}, ${now}) RETURNING ${ORDER}
    ), i AS (
      INSERT INTO order_items (order_id, product, quantity, price, created_at, updated_at)
      SELECT o.id, x.product, x.quantity, x.price, ${now}, ${now}
      FROM o, unnest(${product}::text[], ${quantity}::int4[], ${price}::numeric[]) AS x(product, quantity, price)
    )
    SELECT ${ORDER} FROM o`;
  return reply.status(201).send({ data: row });
});

// S5: change one field — one UPDATE … RETURNING.
app.put<{ Params: { id: string }; Body: Body }>('/api/:app/customer/:id', async (req, reply) => {
  const id = req.params.id;
  const b = req.body ?? {};
  if (!isString(b.name)) return fail(reply, 422, 'VALIDATION_FAILED', 'Validation failed');
  const { db } = variant(req, 'S5');
  const [row] = UUID_RE.test(id)
    ? await db<Row[]>`UPDATE customers SET name = ${b.name}, updated_at = ${new Date()} WHERE id = ${id} RETURNING ${CUSTOMER}`
    : [];
  if (!row) return fail(reply, 404, 'NOT_FOUND', `customer with id ${id} not found`);
  return { data: row };
});

const address = await app.listen({ port: Number(env.PORT ?? 8090), host: '127.0.0.1' });
console.log(`ceiling listening on ${address}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void app
      .close()
      .then(() => Promise.all([prepared.end({ timeout: 5 }), unprepared.end({ timeout: 5 })]))
      .finally(() => process.exit(0));
  });
}
