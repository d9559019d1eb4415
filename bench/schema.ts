import type postgres from 'postgres';

/**
 * The benchmark app: customer → order → order_item (one_to_many twice), a
 * unique email, status enums and decimal totals. Created through Rocket's
 * admin API, then filled with plain SQL (the admin API owns the DDL, the seed
 * only needs speed).
 */

const timestamps = [
  { name: 'created_at', type: 'timestamp', auto: 'create' },
  { name: 'updated_at', type: 'timestamp', auto: 'update' },
];
const pk = { field: 'id', type: 'uuid', generated: true };

export const CUSTOMER_STATUSES = ['active', 'inactive', 'lead'] as const;
export const ORDER_STATUSES = ['new', 'paid', 'shipped', 'cancelled'] as const;

export const ENTITIES = [
  {
    name: 'customer',
    table: 'customers',
    primary_key: pk,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'name', type: 'string', required: true },
      { name: 'email', type: 'string', required: true, unique: true },
      { name: 'status', type: 'string', enum: [...CUSTOMER_STATUSES], default: 'active' },
      ...timestamps,
    ],
  },
  {
    name: 'order',
    table: 'orders',
    primary_key: pk,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'customer_id', type: 'uuid', required: true },
      { name: 'status', type: 'string', enum: [...ORDER_STATUSES], default: 'new' },
      { name: 'total', type: 'decimal', precision: 2, required: true },
      ...timestamps,
    ],
  },
  {
    name: 'order_item',
    table: 'order_items',
    primary_key: pk,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'order_id', type: 'uuid', required: true },
      { name: 'product', type: 'string', required: true },
      { name: 'quantity', type: 'int', required: true },
      { name: 'price', type: 'decimal', precision: 2, required: true },
      ...timestamps,
    ],
  },
];

export const RELATIONS = [
  { name: 'orders', type: 'one_to_many', source: 'customer', target: 'order', target_key: 'customer_id' },
  { name: 'items', type: 'one_to_many', source: 'order', target: 'order_item', target_key: 'order_id' },
];

export interface SeedSize {
  customers: number;
  /** Orders per customer is orders / customers; every order gets 3 items. */
  orders: number;
}

/**
 * Seeds the app's tables in three INSERT … SELECT statements (deterministic
 * data: statuses cycle, totals spread evenly over 0–999.99). Every seeded row
 * is older than `before`, so rows written by the benchmark can be removed again.
 */
export async function seed(sql: postgres.Sql, size: SeedSize, before: Date): Promise<void> {
  const t0 = before.toISOString();
  await sql.begin(async (tx) => {
    await tx.unsafe(
      `INSERT INTO customers (name, email, status, created_at, updated_at)
       SELECT 'Customer ' || g, 'customer' || g || '@example.com', (ARRAY['active','inactive','lead'])[1 + g % 3],
              $2::timestamptz - make_interval(secs => g * 60), $2::timestamptz - make_interval(secs => g * 60)
       FROM generate_series(1, $1::int) g`,
      [size.customers, t0],
    );
    await tx.unsafe(
      `INSERT INTO orders (customer_id, status, total, created_at, updated_at)
       SELECT c.id, (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4], ((g::bigint * 7919) % 100000) / 100.0,
              $3::timestamptz - make_interval(secs => g * 30), $3::timestamptz - make_interval(secs => g * 30)
       FROM generate_series(1, $1::int) g
       JOIN (SELECT id, (row_number() OVER (ORDER BY id) - 1)::int AS rn FROM customers) c ON c.rn = g % $2::int`,
      [size.orders, size.customers, t0],
    );
    await tx.unsafe(
      `INSERT INTO order_items (order_id, product, quantity, price, created_at, updated_at)
       SELECT o.id, 'Product ' || k, k, 9.99 * k, o.created_at, o.created_at
       FROM orders o CROSS JOIN generate_series(1, 3) k`,
    );
  });
  await sql.unsafe('VACUUM ANALYZE customers, orders, order_items');
}

/** Removes what write scenarios added (everything newer than the seed) so every run sees the same tables. */
export async function resetWrites(sql: postgres.Sql, before: Date): Promise<void> {
  const t0 = before.toISOString();
  await sql.begin(async (tx) => {
    await tx.unsafe('DELETE FROM order_items WHERE created_at >= $1::timestamptz', [t0]);
    await tx.unsafe('DELETE FROM orders WHERE created_at >= $1::timestamptz', [t0]);
    await tx.unsafe('DELETE FROM customers WHERE created_at >= $1::timestamptz', [t0]);
  });
  await sql.unsafe('VACUUM ANALYZE customers, orders, order_items');
}
