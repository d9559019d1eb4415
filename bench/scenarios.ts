import type autocannon from 'autocannon';

/** What a scenario needs to build its requests: the app and ids of seeded rows. */
export interface Fixture {
  app: string;
  token: string;
  customerIds: readonly string[];
  orderIds: readonly string[];
  /** Lower bound of S6's total filter. */
  minTotal: number;
}

export interface Scenario {
  id: string;
  title: string;
  /** Whether it changes rows (the tables are reset and vacuumed after it). */
  writes: boolean;
  /** Expected status of every response. */
  status: number;
  request(f: Fixture): autocannon.Request;
}

// Unique per process and run, so created emails never collide across runs.
let counter = 0;
const runTag = Math.random().toString(36).slice(2, 8);
const next = () => ++counter;
const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;

const json = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'S1',
    title: 'list customers: status filter, sort -created_at, page 1 of 25, total',
    writes: false,
    status: 200,
    request: (f) => ({
      method: 'GET',
      path: `/api/${f.app}/customer?filter%5Bstatus%5D=active&sort=-created_at&page=1&per_page=25`,
      headers: auth(f.token),
    }),
  },
  {
    id: 'S2',
    title: 'get order with include=items',
    writes: false,
    status: 200,
    request: (f) => ({
      method: 'GET',
      headers: auth(f.token),
      setupRequest: (req) => ({ ...req, path: `/api/${f.app}/order/${pick(f.orderIds)}?include=items` }),
    }),
  },
  {
    id: 'S3',
    title: 'create customer',
    writes: true,
    status: 201,
    request: (f) => ({
      method: 'POST',
      path: `/api/${f.app}/customer`,
      headers: json(f.token),
      setupRequest: (req) => {
        const n = next();
        return { ...req, body: JSON.stringify({ name: `New ${n}`, email: `new-${runTag}-${n}@example.com`, status: 'lead' }) };
      },
    }),
  },
  {
    id: 'S4',
    title: 'create order with 3 nested items',
    writes: true,
    status: 201,
    request: (f) => ({
      method: 'POST',
      path: `/api/${f.app}/order`,
      headers: json(f.token),
      setupRequest: (req) => {
        const n = next();
        const items = [1, 2, 3].map((k) => ({ product: `Product ${k}`, quantity: k, price: 9.99 * k }));
        const body = { customer_id: pick(f.customerIds), total: (n % 100000) / 100, items: { data: items } };
        return { ...req, body: JSON.stringify(body) };
      },
    }),
  },
  {
    id: 'S5',
    title: 'update one field of a customer',
    writes: true,
    status: 200,
    request: (f) => ({
      method: 'PUT',
      headers: json(f.token),
      setupRequest: (req) => ({
        ...req,
        path: `/api/${f.app}/customer/${pick(f.customerIds)}`,
        body: JSON.stringify({ name: `Renamed ${next()}` }),
      }),
    }),
  },
  {
    id: 'S6',
    title: 'list orders: total gte filter, include=items',
    writes: false,
    status: 200,
    request: (f) => ({
      method: 'GET',
      path: `/api/${f.app}/order?filter%5Btotal.gte%5D=${f.minTotal}&include=items`,
      headers: auth(f.token),
    }),
  },
];

/**
 * The SQL alternatives a hand-writer would try for each scenario. `bench/run.ts --ceiling-trials`
 * measures every variant (sent as the `x-ceiling-variant` header) and the fastest becomes the
 * ceiling's default (DEFAULT_VARIANT in ceiling.ts): the ceiling is the fastest of them, not one fixed shape. Flags, comma-separated:
 * `two` (page and count as two statements sent in parallel; else one statement), `notie` (no
 * tiebreaker after the sort field), `unprepared` (unnamed statements).
 */
export const CEILING_VARIANTS = {
  S1: ['one', 'two', 'one,notie', 'two,notie', 'one,unprepared', 'two,unprepared'],
  S2: ['prepared', 'unprepared'],
  S3: ['prepared', 'unprepared'],
  S4: ['prepared', 'unprepared'],
  S5: ['prepared', 'unprepared'],
  S6: ['one', 'two', 'one,unprepared', 'two,unprepared'],
} as const satisfies Record<string, readonly string[]>;
