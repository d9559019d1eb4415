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
import Fastify, { type FastifyReply } from 'fastify';
import postgres from 'postgres';
import { CUSTOMER_STATUSES, ORDER_STATUSES } from './schema.js';
import { CEILING_APPLICATION } from './servers.js';

const env = process.env;
const sql = postgres({
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
});

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
async function withItems(orders: Row[]): Promise<Row[]> {
  if (orders.length === 0) return orders;
  const items = await sql<Row[]>`SELECT ${ITEM} FROM order_items WHERE order_id = ANY(${orders.map((o) => o.id as string)}::uuid[])`;
  const byOrder = new Map<unknown, Row[]>();
  for (const item of items) {
    let list = byOrder.get(item.order_id);
    if (!list) byOrder.set(item.order_id, (list = []));
    list.push(item);
  }
  for (const o of orders) o.items = byOrder.get(o.id) ?? [];
  return orders;
}

/** Splits a count-plus-page row set (see the list queries) into the list envelope. */
function listOf(rows: Row[], p: { page: number; perPage: number }) {
  const total = Number(rows[0]?.n ?? 0);
  const data: Row[] = [];
  for (const { n: _n, ...row } of rows) if (row.id !== null) data.push(row);
  return { data, meta: { page: p.page, per_page: p.perPage, total } };
}

const app = Fastify({ logger: false });

app.get('/health', async () => ({ status: 'ok' }));

// S1: customers by status, newest first, with the total — one round trip (count and page together).
// S6: orders by minimum total with their items — the same, plus one query for the items.
app.get<{ Params: { entity: string }; Querystring: Query }>('/api/:app/:entity', async (req, reply) => {
  const q = req.query;
  const p = page(q);
  const offset = (p.page - 1) * p.perPage;
  if (req.params.entity === 'customer') {
    const status = q['filter[status]'];
    if (status === undefined || !(CUSTOMER_STATUSES as readonly string[]).includes(status)) {
      return fail(reply, 400, 'INVALID_PAYLOAD', 'filter[status] is required');
    }
    const rows = await sql<Row[]>`
      SELECT c.n, p.* FROM (SELECT count(*) AS n FROM customers WHERE status = ${status}) c
      LEFT JOIN LATERAL (SELECT ${CUSTOMER} FROM customers WHERE status = ${status}
                         ORDER BY created_at DESC, id ASC LIMIT ${p.perPage} OFFSET ${offset}) p ON true`;
    return listOf(rows, p);
  }
  if (req.params.entity === 'order') {
    const min = Number(q['filter[total.gte]']);
    if (!Number.isFinite(min)) return fail(reply, 400, 'INVALID_PAYLOAD', 'filter[total.gte] must be a number');
    const rows = await sql<Row[]>`
      SELECT c.n, p.* FROM (SELECT count(*) AS n FROM orders WHERE total >= ${min}) c
      LEFT JOIN LATERAL (SELECT ${ORDER} FROM orders WHERE total >= ${min} LIMIT ${p.perPage} OFFSET ${offset}) p ON true`;
    const list = listOf(rows, p);
    await withItems(list.data);
    return list;
  }
  return fail(reply, 404, 'UNKNOWN_ENTITY', `Unknown entity: ${req.params.entity}`);
});

// S2: one order with its items — two round trips (the order decides the 404).
app.get<{ Params: { entity: string; id: string } }>('/api/:app/order/:id', async (req, reply) => {
  const id = req.params.id;
  const [order] = UUID_RE.test(id) ? await sql<Row[]>`SELECT ${ORDER} FROM orders WHERE id = ${id}` : [];
  if (!order) return fail(reply, 404, 'NOT_FOUND', `order with id ${id} not found`);
  await withItems([order]);
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
  try {
    const [row] = await sql<Row[]>`
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
    typeof b.customer_id !== 'string' || !UUID_RE.test(b.customer_id) || !isMoney(b.total) ||
    !(ORDER_STATUSES as readonly unknown[]).includes(status) || !Array.isArray(items)
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
  const [row] = await sql<Row[]>`
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
  const [row] = UUID_RE.test(id)
    ? await sql<Row[]>`UPDATE customers SET name = ${b.name}, updated_at = ${new Date()} WHERE id = ${id} RETURNING ${CUSTOMER}`
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
      .then(() => sql.end({ timeout: 5 }))
      .finally(() => process.exit(0));
  });
}
