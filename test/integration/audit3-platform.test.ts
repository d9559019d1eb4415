import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

/** Platform audit (auth, multi-app, export/import, OpenAPI, operations): defects found by probing, each pinned. */

let s: TestServer & { managementDb: string; dataDir: string };
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The `rocket` command as a real process, on the test server's management database. */
function rocket(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: {
      ...process.env,
      DATABASE_URL: `${inject('pgUrl')}${s.managementDb}`,
      ROCKET_DATA_DIR: s.dataDir,
      ROCKET_STORAGE_PATH: s.config.storagePath,
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c) => (stdout += c));
  proc.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => proc.once('exit', (code) => resolve({ code, stdout, stderr })));
}

const numbers = {
  name: 'num',
  table: 'nums',
  primary_key: { field: 'id', type: 'int', generated: true },
  fields: [
    { name: 'id', type: 'int' },
    { name: 'big', type: 'bigint' },
    { name: 'price', type: 'decimal', precision: 2 },
    { name: 'data', type: 'json' },
  ],
};
// Digits a double would change: 12345678901234567 → …568, 99999999999999.99 → …98.
const EXACT_ROW = '{"big": 12345678901234567, "price": 99999999999999.99, "data": {"n": 12345678901234567890}}';
const importText = `{"version": 1, "entities": [${JSON.stringify(numbers)}], "sample_data": {"num": [${EXACT_ROW}]}}`;

describe('import sample_data keeps the digits sent (export-import.md §sample_data, rest-api.md §Value encoding)', () => {
  it('through the API: a bigint, a decimal and a json number beyond a double are stored exactly', async () => {
    const app = await s.createApp();
    const res = await s.client.post(`/api/${app.name}/_admin/import`, { token: app.token, raw: importText });
    expect(res.status).toBe(200);
    expect(res.body.data.summary.records).toBe(1);
    expect(res.body.data.errors).toBeUndefined();
    const sql = postgres(`${inject('pgUrl')}rocket_${app.name}`, { max: 1 });
    try {
      const rows = await sql`SELECT big::text, price::text, data::text FROM nums`;
      expect([...rows]).toEqual([{ big: '12345678901234567', price: '99999999999999.99', data: '{"n": 12345678901234567890}' }]);
    } finally {
      await sql.end();
    }
    // Metadata numbers are still read as the admin API reads them; a row that is no object is still reported.
    const odd = await s.client.post(`/api/${app.name}/_admin/import`, {
      token: app.token,
      raw: '{"version": 1, "sample_data": {"num": [1e400]}, "entities": [{"name": "num2", "table": "nums2", "primary_key": {"field": "id", "type": "int", "generated": true}, "fields": [{"name": "id", "type": "int"}]}]}',
    });
    expect(odd.status).toBe(200);
    expect(odd.body.data.summary.entities).toBe(1);
  });

  it('through `rocket import`: the same digits', async () => {
    const app = await s.createApp();
    const file = join(await mkdtemp(join(tmpdir(), 'rocket-audit3-')), 'nums.json');
    await writeFile(file, importText);
    const run = await rocket(['--json', 'import', app.name, file]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).summary.records).toBe(1);
    const list = await s.client.get(`/api/${app.name}/num`, { token: app.token });
    expect(list.status).toBe(200);
    // The answer writes the exact digits: compare the raw text.
    const raw = await fetch(`${s.rocket.url}/api/${app.name}/num`, { headers: { authorization: `Bearer ${app.token}` } }).then((r) => r.text());
    expect(raw).toContain('"big":12345678901234567,');
    expect(raw).toContain('"price":99999999999999.99,');
    expect(raw).toContain('"data":{"n":12345678901234567890}');
  });
});

describe('configuration: a number setting takes decimal digits only (operations.md: a bad setting stops the command)', () => {
  it.each([' ', '0x1F90', '1e3'])('PORT=%j is refused with exit code 2 and one line naming it', async (port) => {
    const run = await rocket(['apps', 'list'], { PORT: port });
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe('rocket: invalid setting PORT: must be a whole number from 0 to 65535');
  });

  it('a plain number (with surrounding blanks) is still taken', async () => {
    const run = await rocket(['--json', 'apps', 'list'], { PORT: ' 8080 ' });
    expect(run.code, run.stderr).toBe(0);
    expect(Array.isArray(JSON.parse(run.stdout))).toBe(true);
  });
});

describe('the platform OpenAPI document describes what POST /apps takes (openapi.md, operations.md §Placing apps)', () => {
  it('the create body names `database` and the 56-character name limit', async () => {
    const doc = await s.client.get('/api/_platform/openapi', { token: s.platformToken });
    expect(doc.status).toBe(200);
    const body = doc.body.paths['/apps'].post.requestBody.content['application/json'].schema;
    expect(body.properties.database).toEqual({ type: 'string' });
    expect(body.properties.name.maxLength).toBe(56);
    // And the server takes what the document describes.
    const name = `pl${Date.now().toString(36)}`;
    const created = await s.client.post('/api/_platform/apps', { token: s.platformToken, body: { name, database: 'main' } });
    expect(created.status).toBe(201);
    const app = await s.client.get(`/api/_platform/apps/${name}`, { token: s.platformToken });
    expect(app.body.data.database).toBe('main');
    expect((await s.client.delete(`/api/_platform/apps/${name}`, { token: s.platformToken })).status).toBe(200);
  });
});

describe('concurrent imports into one app (export-import.md: existing items are skipped)', () => {
  it('four imports of the same document at once store each item once', async () => {
    const doc = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/examples/helpdesk-ticketing.json'), 'utf8'));
    const app = await s.createApp();
    const results = await Promise.all([1, 2, 3, 4].map(() => s.client.post(`/api/${app.name}/_admin/import`, { token: app.token, body: doc })));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const exported = (await s.client.get(`/api/${app.name}/_admin/export`, { token: app.token })).body.data;
    const counts = (d: Record<string, unknown[]>) =>
      ['entities', 'relations', 'rules', 'state_machines', 'workflows', 'permissions', 'webhooks'].map((k) => d[k]?.length);
    expect(counts(exported)).toEqual(counts(doc));
    // Created once in total across the four answers.
    const created = results.map((r) => r.body.data.summary.rules as number).reduce((a, b) => a + b, 0);
    expect(created).toBe(doc.rules.length);
    const tickets = await s.client.get(`/api/${app.name}/ticket`, { token: app.token });
    expect(tickets.body.meta.total).toBe(doc.sample_data.ticket.length);
  });
});

describe('a rule threshold beyond a double survives export and import (export-import.md, rules admin keeps it exact)', () => {
  const entity = {
    name: 'acct',
    table: 'accts',
    primary_key: { field: 'id', type: 'uuid', generated: true },
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'balance', type: 'bigint' },
    ],
  };
  const RULE =
    '{"entity": "acct", "hook": "before_write", "type": "field", "definition": {"field": "balance", "operator": "max", "value": 9007199254740993, "message": "too big"}}';

  async function appWithRule() {
    const app = await s.createApp();
    expect((await s.client.post(`/api/${app.name}/_admin/entities`, { token: app.token, body: entity })).status).toBe(201);
    expect((await s.client.post(`/api/${app.name}/_admin/rules`, { token: app.token, raw: RULE })).status).toBe(201);
    return app;
  }
  const rawGet = (path: string, token: string) =>
    fetch(`${s.rocket.url}${path}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.text());

  it('through the API: re-importing the export finds the rule; another app gets the exact threshold', async () => {
    const app = await appWithRule();
    const exported = await rawGet(`/api/${app.name}/_admin/export`, app.token);
    expect(exported).toContain('"value":9007199254740993');
    const again = await s.client.post(`/api/${app.name}/_admin/import`, { token: app.token, raw: exported });
    expect(again.status).toBe(200);
    expect(again.body.data.summary.rules).toBe(0);
    expect((await s.client.get(`/api/${app.name}/_admin/rules`, { token: app.token })).body.data).toHaveLength(1);

    const other = await s.createApp();
    const into = await s.client.post(`/api/${other.name}/_admin/import`, { token: other.token, raw: exported });
    expect(into.body.data.summary.rules).toBe(1);
    expect(await rawGet(`/api/${other.name}/_admin/rules`, other.token)).toContain('"value":9007199254740993');
  });

  it('through `rocket export` / `rocket import`: the document carries the number, and re-importing it adds nothing', async () => {
    const app = await appWithRule();
    const file = join(await mkdtemp(join(tmpdir(), 'rocket-audit3-')), 'export.json');
    const out = await rocket(['export', app.name, '-o', file]);
    expect(out.code, out.stderr).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('"value": 9007199254740993');
    const back = await rocket(['--json', 'import', app.name, file]);
    expect(back.code, back.stderr).toBe(0);
    expect(JSON.parse(back.stdout).summary.rules).toBe(0);
  });
});
