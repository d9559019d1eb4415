import type postgres from 'postgres';

/**
 * Large-table mode (`--large`): one entity with 1,000,000 rows, the list requests of issue 20
 * timed before (no declared index, exact count, offset page) and after (declared indexes,
 * `count=estimated`, a keyset cursor). Requests go one at a time (latency, not throughput).
 */

export const TICKET = {
  name: 'ticket',
  table: 'tickets',
  primary_key: { field: 'id', type: 'uuid', generated: true },
  fields: [
    { name: 'id', type: 'uuid' },
    { name: 'subject', type: 'string', required: true },
    { name: 'status', type: 'string', enum: ['open', 'pending', 'closed', 'spam'] },
    { name: 'priority', type: 'int' },
    { name: 'created_at', type: 'timestamp', auto: 'create' },
    { name: 'updated_at', type: 'timestamp', auto: 'update' },
  ],
};

/** The same entity with what a large table needs declared. */
export const TICKET_INDEXED = {
  ...TICKET,
  fields: TICKET.fields.map((f) => (f.name === 'subject' || f.name === 'created_at' ? { ...f, index: true } : f)),
  indexes: [{ fields: ['status', 'created_at'] }],
};

export async function seedTickets(sql: postgres.Sql, rows: number): Promise<void> {
  await sql.unsafe(
    `INSERT INTO tickets (subject, status, priority, created_at, updated_at)
     SELECT 'Subject ' || g, (ARRAY['open','pending','closed','spam'])[1 + g % 4], g % 5,
            timestamptz '2026-01-01' + make_interval(secs => g), timestamptz '2026-01-01' + make_interval(secs => g)
       FROM generate_series(1, $1::int) g`,
    [rows],
  );
  await sql.unsafe('VACUUM ANALYZE tickets');
}

export interface LargeCase {
  id: string;
  title: string;
  before: string;
  after: string;
}

/** Query strings (after `/ticket?`); `{cursor}` is replaced by a cursor from deep in the table. */
export function largeCases(rows: number): LargeCase[] {
  const deepPage = Math.max(1, Math.floor((rows * 0.999) / 25));
  return [
    { id: 'L1', title: 'page 1 with its total', before: 'sort=-created_at&per_page=25', after: 'sort=-created_at&per_page=25&count=estimated' },
    {
      id: 'L2',
      title: 'filter + sort on a declared index (status, created_at)',
      before: 'filter%5Bstatus%5D=pending&sort=-created_at&per_page=25',
      after: 'filter%5Bstatus%5D=pending&sort=-created_at&per_page=25&count=estimated',
    },
    {
      id: 'L3',
      title: "prefix like on an indexed string field ('Subject 12345%')",
      before: 'filter%5Bsubject.like%5D=Subject%2012345%25&per_page=25',
      after: 'filter%5Bsubject.like%5D=Subject%2012345%25&per_page=25&count=estimated',
    },
    {
      id: 'L4',
      title: `a page deep in the table (offset page ${deepPage} → cursor)`,
      before: `sort=-created_at&per_page=25&page=${deepPage}`,
      after: 'sort=-created_at&per_page=25&count=estimated&cursor={cursor}',
    },
  ];
}

export interface Timing {
  median: number;
  p95: number;
  max: number;
}

/** `n` sequential requests after `warm` unmeasured ones; milliseconds. */
export async function time(get: () => Promise<void>, n: number, warm = 3): Promise<Timing> {
  for (let i = 0; i < warm; i++) await get();
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await get();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { median: ms[Math.floor(ms.length / 2)]!, p95: ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.95))]!, max: ms[ms.length - 1]! };
}
