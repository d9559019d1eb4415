import { expect } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import type { Response } from './client.js';
import { startTestServer, type TestServer } from './server.js';

/**
 * Shared setup for the metadata-engine / dynamic CRUD suites: one server, one
 * app, thin request helpers and direct SQL access to the app database for
 * state assertions.
 */
export interface EngineHarness {
  s: TestServer;
  app: { name: string; token: string };
  base: string;
  runtime(): Promise<AppRuntime>;
  /** SQL against the app database (for assertions only). */
  q<T = any>(sql: string, params?: unknown[]): Promise<T[]>;
  get(path: string): Promise<Response<any>>;
  post(path: string, body?: unknown): Promise<Response<any>>;
  put(path: string, body?: unknown): Promise<Response<any>>;
  del(path: string): Promise<Response<any>>;
  raw(method: string, path: string, raw: string, headers?: Record<string, string>): Promise<Response<any>>;
  /** POST /_admin/entities, expecting 201. */
  entity(def: Record<string, unknown>): Promise<any>;
  /** POST /_admin/relations, expecting 201. */
  relation(def: Record<string, unknown>): Promise<any>;
  /** POST /:entity, expecting 201; returns the record. */
  create(entity: string, body: Record<string, unknown>): Promise<any>;
  close(): Promise<void>;
}

export async function startEngine(env: Record<string, string> = {}): Promise<EngineHarness> {
  const s = await startTestServer(env);
  const app = await s.createApp();
  const base = `/api/${app.name}`;
  const opts = (body?: unknown) => ({ token: app.token, body });
  const runtime = async () => {
    const rt = await s.rocket.services.apps.get(app.name);
    if (!rt) throw new Error('app runtime missing');
    return rt;
  };
  const h: EngineHarness = {
    s,
    app,
    base,
    runtime,
    async q(sql, params = []) {
      return (await runtime()).db.query(sql, params as never[]);
    },
    get: (path) => s.client.get(base + path, opts()),
    post: (path, body) => s.client.post(base + path, opts(body)),
    put: (path, body) => s.client.put(base + path, opts(body)),
    del: (path) => s.client.delete(base + path, opts()),
    raw: (method, path, raw, headers) => s.client.request(method, base + path, { token: app.token, raw, headers }),
    async entity(def) {
      const res = await s.client.post(`${base}/_admin/entities`, opts(def));
      expect(res.status, `create entity ${String(def.name)}: ${JSON.stringify(res.body)}`).toBe(201);
      return res.body.data;
    },
    async relation(def) {
      const res = await s.client.post(`${base}/_admin/relations`, opts(def));
      expect(res.status, `create relation ${String(def.name)}: ${JSON.stringify(res.body)}`).toBe(201);
      return res.body.data;
    },
    async create(entity, body) {
      const res = await s.client.post(`${base}/${entity}`, opts(body));
      expect(res.status, `create ${entity}: ${JSON.stringify(res.body)}`).toBe(201);
      return res.body.data;
    },
    close: () => s.close(),
  };
  return h;
}

export const UUID_PK = { field: 'id', type: 'uuid', generated: true } as const;
export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
export const MISSING_UUID = '00000000-0000-4000-8000-000000000000';

/** Column facts from information_schema, keyed by column name. */
export async function columnsOf(h: EngineHarness, table: string) {
  const rows = await h.q<{
    column_name: string;
    data_type: string;
    is_nullable: string;
    column_default: string | null;
    numeric_precision: number | null;
    numeric_scale: number | null;
    is_identity: string;
  }>(
    `SELECT column_name, data_type, is_nullable, column_default, numeric_precision, numeric_scale, is_identity
       FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return new Map(rows.map((r) => [r.column_name, r]));
}

export async function tableExists(h: EngineHarness, table: string): Promise<boolean> {
  const rows = await h.q(`SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1`, [table]);
  return rows.length > 0;
}

/** Index definitions of a table: [{name, unique, columns, predicate}]. */
export async function indexesOf(h: EngineHarness, table: string) {
  return h.q<{ name: string; unique: boolean; primary: boolean; columns: string[]; predicate: string | null }>(
    `SELECT c.relname AS name, i.indisunique AS unique, i.indisprimary AS primary,
            ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns,
            pg_get_expr(i.indpred, i.indrelid) AS predicate
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
      WHERE t.relname = $1 AND t.relnamespace = current_schema()::regnamespace ORDER BY c.relname`,
    [table],
  );
}
