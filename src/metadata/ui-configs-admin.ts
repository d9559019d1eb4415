import { jsonColumns, jsonOfText } from '../db/exact-json.js';
import { RocketError, conflict, invalid, invalidPayload, notFound } from '../errors.js';
import { UUID_RE } from '../types/ids.js';
import { hasNul } from '../types/text.js';
import type { AdminApp } from './admin-app.js';
import { isObject } from './problems.js';
import type { TransferSection } from './transfer-sections.js';

/** UI configs: free-form per-entity UI JSON (spec: metadata.md §8). */

export interface UIConfigRow {
  id: string;
  entity: string;
  scope: string;
  config: unknown;
  created_at: Date;
  updated_at: Date;
}

interface UIConfigInput {
  entity: string;
  scope: string;
  config: unknown;
}

const COLUMNS = 'id, entity, scope, config, created_at, updated_at';
const DEFAULT_SCOPE = 'default';

const blank = (v: unknown) => v === undefined || v === null || v === '';

/** The config column: the legacy server could store it as JSON text, answered as the value it holds (README). */
const CONFIG = ['config'] as const;
const answered = <R extends { config: unknown }>(row: R): R => jsonColumns(row, CONFIG);

/**
 * The jsonb text of a config. A string holding a JSON object or array is that value (the legacy admin app's
 * editor sends the text it edits), taken as sent so PostgreSQL keeps its numbers exact; other values as JSON.
 */
function configJson(config: unknown): string {
  const held = typeof config === 'string' ? jsonOfText(config) : undefined;
  if (held === undefined) return JSON.stringify(config);
  if (hasNul(held)) throw invalid('config must not contain NUL characters');
  return config as string;
}

/** Create/Update body `{entity, scope?, config?}`; only a create checks that the entity exists. */
function parse(app: AdminApp, input: unknown, creating: boolean): UIConfigInput {
  if (!isObject(input)) throw invalidPayload();
  const { entity, scope, config } = input;
  if (blank(entity)) throw invalid('entity is required');
  if (typeof entity !== 'string') throw invalid('entity must be a string');
  if (entity.includes('\u0000')) throw invalid('entity must not contain NUL characters');
  if (creating && !entity.startsWith('_') && !app.registry.entities.has(entity)) throw invalid(`entity not found: ${entity}`);
  if (!blank(scope) && typeof scope !== 'string') throw invalid('scope must be a string');
  if (typeof scope === 'string' && scope.includes('\u0000')) throw invalid('scope must not contain NUL characters');
  if (hasNul(config)) throw invalid('config must not contain NUL characters');
  return {
    entity,
    scope: blank(scope) ? DEFAULT_SCOPE : (scope as string),
    config: config === undefined || config === null ? {} : config,
  };
}

const duplicate = (entity: string, scope: string) => conflict(`UI config already exists: ${entity} (scope ${scope})`);

/** Runs a write whose unique (entity, scope) violation is the spec's 409. */
async function unique<T>(input: UIConfigInput, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof RocketError && err.code === 'CONFLICT') throw duplicate(input.entity, input.scope);
    throw err;
  }
}

export async function listUIConfigs(app: AdminApp): Promise<UIConfigRow[]> {
  return (await app.db.query<UIConfigRow>(`SELECT ${COLUMNS} FROM _ui_configs ORDER BY entity, scope`)).map(answered);
}

export async function getUIConfig(app: AdminApp, id: string): Promise<UIConfigRow> {
  const rows = UUID_RE.test(id) ? await app.db.query<UIConfigRow>(`SELECT ${COLUMNS} FROM _ui_configs WHERE id = $1`, [id]) : [];
  if (!rows[0]) throw notFound(`UI config not found: ${id}`);
  return answered(rows[0]);
}

export async function createUIConfig(app: AdminApp, body: unknown): Promise<UIConfigRow> {
  const input = parse(app, body, true);
  const rows = await unique(input, () =>
    app.db.query<UIConfigRow>(`INSERT INTO _ui_configs (entity, scope, config) VALUES ($1, $2, $3::jsonb) RETURNING ${COLUMNS}`, [
      input.entity,
      input.scope,
      configJson(input.config),
    ]),
  );
  return answered(rows[0]!);
}

/** PUT replaces the row's entity, scope and config (absent scope/config take their defaults again). */
export async function updateUIConfig(app: AdminApp, id: string, body: unknown): Promise<UIConfigRow> {
  await getUIConfig(app, id);
  const input = parse(app, body, false);
  const rows = await unique(input, () =>
    app.db.query<UIConfigRow>(
      `UPDATE _ui_configs SET entity = $2, scope = $3, config = $4::jsonb, updated_at = NOW() WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, input.entity, input.scope, configJson(input.config)],
    ),
  );
  if (!rows[0]) throw notFound(`UI config not found: ${id}`);
  return answered(rows[0]);
}

export async function deleteUIConfig(app: AdminApp, id: string): Promise<{ id: string; deleted: true }> {
  const rows = UUID_RE.test(id) ? await app.db.query<{ id: string }>('DELETE FROM _ui_configs WHERE id = $1 RETURNING id', [id]) : [];
  if (!rows[0]) throw notFound(`UI config not found: ${id}`);
  return { id: rows[0].id, deleted: true };
}

/** `GET /_ui/configs`: every default-scope row, by entity. */
export async function defaultUIConfigs(app: AdminApp): Promise<UIConfigRow[]> {
  return (await app.db.query<UIConfigRow>(`SELECT ${COLUMNS} FROM _ui_configs WHERE scope = $1 ORDER BY entity`, [DEFAULT_SCOPE])).map(answered);
}

/** `GET /_ui/config/:entity`: the default-scope row, or null. */
export async function defaultUIConfig(app: AdminApp, entity: string): Promise<UIConfigRow | null> {
  if (entity.includes('\u0000')) return null;
  const rows = await app.db.query<UIConfigRow>(`SELECT ${COLUMNS} FROM _ui_configs WHERE entity = $1 AND scope = $2`, [entity, DEFAULT_SCOPE]);
  return rows[0] ? answered(rows[0]) : null;
}

type UIConfigView = Omit<UIConfigRow, 'created_at' | 'updated_at'>;

/** Import: insert or replace the config of (entity, scope); the row as stored, and the one it replaced. */
export async function upsertUIConfig(app: AdminApp, body: unknown): Promise<{ stored: UIConfigView; replaced?: UIConfigView }> {
  const input = parse(app, body, true);
  // The CTE reads the row as it was before this statement's own upsert.
  const rows = await app.db.query<UIConfigView & { replaced: UIConfigView | null }>(
    `WITH old AS (SELECT id, entity, scope, config FROM _ui_configs WHERE entity = $1 AND scope = $2)
     INSERT INTO _ui_configs (entity, scope, config) VALUES ($1, $2, $3::jsonb)
     ON CONFLICT (entity, scope) DO UPDATE SET config = EXCLUDED.config, updated_at = NOW()
     RETURNING id, entity, scope, config, (SELECT to_jsonb(old) FROM old) AS replaced`,
    [input.entity, input.scope, configJson(input.config)],
  );
  const { replaced, ...stored } = rows[0]!;
  return replaced ? { stored: answered(stored), replaced: answered(replaced) } : { stored: answered(stored) };
}

/** UI configs in schema export/import: upserted, never skipped. */
export const uiConfigsTransfer: TransferSection = {
  key: 'ui_configs',
  async exportItems(app) {
    return (await listUIConfigs(app)).map(({ entity, scope, config }) => ({ entity, scope, config }));
  },
  importItem: (app, item) => upsertUIConfig(app, item),
  errorLabel: (item) => `UI config ${isObject(item) && typeof item.entity === 'string' ? item.entity : '?'}`,
};
