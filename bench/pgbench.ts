import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PgTarget } from './servers.js';

/**
 * The database's own limit for the single-row writes: S3's INSERT and S5's UPDATE run by
 * `pgbench -M prepared` (no HTTP, no Node) against the benchmark tables. Rocket's req/s divided by
 * these tps is "Rocket's fraction of the pgbench limit". S5 finds its row by the unique email
 * (pgbench cannot draw a random UUID from the table); both are one btree lookup.
 */

const SCRIPTS: Record<string, string> = {
  S3: `\\set n random(1, 9000000000000000)
INSERT INTO customers (name, email, status, created_at, updated_at)
VALUES ('New ' || :n, 'pgbench-' || :n || '-' || :client_id || '@example.com', 'lead', now(), now())
RETURNING id, name, email, status, created_at, updated_at;
`,
  S5: `\\set i random(1, CUSTOMERS)
UPDATE customers SET name = 'Renamed ' || :i, updated_at = now() WHERE email = 'customer' || :i || '@example.com'
RETURNING id, name, email, status, created_at, updated_at;
`,
};

export function pgbenchPath(): string | undefined {
  for (const p of ['/usr/lib/postgresql/15/bin/pgbench', '/usr/bin/pgbench', '/usr/local/bin/pgbench']) if (existsSync(p)) return p;
  return undefined;
}

export async function pgbench(
  bin: string,
  pg: PgTarget,
  database: string,
  scenario: 'S3' | 'S5',
  clients: number,
  seconds: number,
  customers: number,
  dir: string,
): Promise<number> {
  const file = join(dir, `pgbench-${scenario}.sql`);
  await writeFile(file, SCRIPTS[scenario]!.replace('CUSTOMERS', String(customers)));
  const args = [
    '-n',
    '-M',
    'prepared',
    '-c',
    String(clients),
    '-j',
    '2',
    '-T',
    String(seconds),
    '-f',
    file,
    '-h',
    pg.host,
    '-p',
    String(pg.port),
    '-U',
    pg.user,
    database,
  ];
  const out = await new Promise<string>((resolve, reject) => {
    execFile(bin, args, { env: { ...process.env, PGPASSWORD: pg.password ?? '' } }, (err, stdout, stderr) =>
      err ? reject(new Error(`pgbench failed: ${stderr || err.message}`)) : resolve(stdout),
    );
  });
  const m = /tps = ([\d.]+)/.exec(out);
  if (!m) throw new Error(`pgbench: no tps in output:\n${out}`);
  return Number(m[1]);
}
