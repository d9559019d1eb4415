import type { AdminChange } from './audit.js';
import { createPermission, listPermissions, parsePermissionInput } from '../auth/permission-admin.js';
import type { Queryable } from '../db/database.js';
import type { EntityMeta } from './registry.js';
import { quoteIdent } from '../db/quote.js';
import { RocketError, invalid, invalidPayload } from '../errors.js';
import { Params } from '../db/params.js';
import { plainNumbers } from '../db/exact-number.js';
import { jsonColumns, jsonOfText } from '../db/exact-json.js';
import { insertSampleSql } from './sql/statements.js';
import type { AdminApp } from './admin-app.js';
import { createEntity, createRelation } from './admin.js';
import { continueIdentity } from './migrate.js';
import { isObject } from './problems.js';
import { ownValue } from '../collections.js';
import { invertedRuleReason } from './inverted-rules.js';
import { parseRule } from './rule-definition.js';
import type { RuleInput } from './logic-definitions.js';
import { createRule, listRules } from './rules-admin.js';
import { createStateMachine, listStateMachines } from './state-machines-admin.js';
import type { TransferSection } from './transfer-sections.js';
import { isoSeconds } from '../types/time.js';

/** Schema export / import (spec: export-import.md). */

type Json = Record<string, unknown>;

export interface ExportDocument {
  version: 1;
  exported_at: string;
  entities: unknown[];
  relations: unknown[];
  rules: unknown[];
  state_machines: unknown[];
  workflows: unknown[];
  permissions: unknown[];
  webhooks: unknown[];
  ui_configs: unknown[];
  /** Sections of other features, by their key. */
  [section: string]: unknown;
}

/** Sections whose items the spec imports before permissions (step 5); the others follow permissions, in the order given. */
const BEFORE_PERMISSIONS = new Set(['workflows']);
/** Parts of an import read with their exact numbers, as their admin APIs read them (see importUnlocked). */
const EXACT_SECTIONS = new Set(['entities', 'rules', 'state_machines', 'workflows', 'permissions', 'sample_data']);
/** Sections the spec knows: without a feature to import them, their items are reported as skipped. */
const SPEC_SECTIONS = ['workflows', 'webhooks', 'ui_configs'];

export async function exportSchema(app: AdminApp, sections: readonly TransferSection[]): Promise<ExportDocument> {
  const entities = await app.db.query<{ definition: unknown }>('SELECT definition FROM _entities ORDER BY name');
  const relations = await app.db.query<{ definition: unknown }>('SELECT definition FROM _relations ORDER BY name');
  const rules = (await listRules(app)).map(({ entity, hook, type, definition, priority, active }) => ({
    entity,
    hook,
    type,
    definition,
    priority,
    active,
  }));
  const machines = (await listStateMachines(app)).map(({ entity, field, definition, active }) => ({ entity, field, definition, active }));
  const permissions = (await listPermissions(app.db)).map(({ entity, action, roles, conditions }) => ({ entity, action, roles, conditions }));
  const doc: ExportDocument = {
    version: 1,
    exported_at: isoSeconds(),
    // Definitions the legacy server stored as JSON text are exported as the objects they hold.
    entities: entities.map((r) => jsonColumns(r, ['definition']).definition),
    relations: relations.map((r) => jsonColumns(r, ['definition']).definition),
    rules,
    state_machines: machines,
    workflows: [],
    permissions,
    webhooks: [],
    ui_configs: [],
  };
  for (const section of sections) doc[section.key] = await section.exportItems(app);
  return doc;
}

/** Stable JSON for de-duplication: object keys sorted at every level. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

type RuleIdentity = Pick<RuleInput, 'entity' | 'hook' | 'type' | 'definition'>;
const ruleKey = (r: RuleIdentity) => canonical([r.entity, r.hook, r.type, r.definition]);

/** A stored rule's key in its saved form: rows written before a normalisation existed (a threshold "3") are normalised now. */
function storedRuleKey(app: AdminApp, r: RuleIdentity): string {
  try {
    return ruleKey(parseRule({ ...r }, app.registry));
  } catch {
    return ruleKey(r); // no longer valid (its field was dropped): only an identical definition matches it
  }
}

function reason(err: unknown): string {
  if (!(err instanceof RocketError)) return (err as Error).message;
  // A refusal by the database (a NOT NULL column a sample row leaves out) names its field only in the details.
  if (err.message !== 'Validation failed' || err.details.length === 0) return err.message;
  return `${err.message}: ${err.details.map((d) => d.message).join('; ')}`;
}

export interface ImportResult {
  message: string;
  summary: Record<string, number>;
  errors?: string[];
}

function items(doc: Json, key: string): unknown[] {
  const v = doc[key];
  return Array.isArray(v) ? v : [];
}

/**
 * Best-effort import: every item validated as by its admin API; existing
 * items are skipped; problems are listed in `errors` and the answer is 200.
 */
/**
 * Told about each sample-data row an import inserted, in the insert's own transaction (history
 * records it as a create); `wants` says for which entities, so the others stay one statement.
 */
export interface SampleRowHook {
  wants(entity: EntityMeta): boolean;
  inserted(tx: Queryable, entity: EntityMeta, row: Record<string, unknown>): Promise<void>;
}

/** Several features told about the same rows, in list order (history, realtime). */
export function allSampleRowHooks(hooks: readonly SampleRowHook[]): SampleRowHook {
  return {
    wants: (entity) => hooks.some((h) => h.wants(entity)),
    async inserted(tx, entity, row) {
      for (const h of hooks) if (h.wants(entity)) await h.inserted(tx, entity, row);
    },
  };
}

export async function importSchema(
  app: AdminApp,
  sections: readonly TransferSection[],
  body: unknown,
  sampleRows?: SampleRowHook,
  /** Told of every definition the import created, as the admin API's audit is (history.md: metadata changes). */
  created?: (change: AdminChange) => Promise<void>,
): Promise<ImportResult> {
  return oneImportAtATime(app.db, async () => {
    // Also after an import that failed half-way: what it stored is in effect, as after every admin change.
    const result = await importUnlocked(app, sections, body, sampleRows, created).catch(async (err: unknown) => {
      await app.reload().catch(() => undefined);
      throw err;
    });
    await app.reload();
    return result;
  });
}

const IMPORT_LOCK = "hashtext('rocket_import')";

/**
 * Imports into one app run one at a time, whichever instance or command line sends them: each skips what
 * exists, so two at once would both find an item missing and store it twice (a rule or webhook then runs
 * twice). The holder keeps a transaction open with an advisory lock (advisory locks are per database, so one
 * key serves every app); a waiting import holds no connection while it waits. With a pool of one
 * connection the lock's transaction would starve the import itself, so there it is not taken.
 */
async function oneImportAtATime<T>(db: AdminApp['db'], work: () => Promise<T>): Promise<T> {
  if (db.options.max < 2) return work();
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    const outcome = await db.transaction(async (tx) => {
      const [lock] = await tx.query<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock(${IMPORT_LOCK}) AS ok`);
      return lock?.ok ? { done: await work() } : undefined;
    });
    if (outcome) return outcome.done;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/**
 * The document of an import body: the body itself, or the `data` of an export envelope. Sample rows sent next
 * to the envelope (an export response with `sample_data` added beside `data`) are the document's when it has
 * none of its own: they are what the sender meant to seed, not a key to ignore silently.
 */
function unwrapped(body: Json): Json {
  if (!isObject(body.data) || body.version !== undefined) return body;
  const doc = body.data;
  const outer = ownValue(body, 'sample_data');
  if (outer === undefined || ownValue(doc, 'sample_data') !== undefined) return doc;
  // Spread defines own keys: a `__proto__` key of the body stays a key.
  return { ...doc, sample_data: outer };
}

/** A JSON object written as JSON text, parsed (exactly, as a body is); anything else as it is. */
function objectOfText(item: unknown): unknown {
  const parsed = typeof item === 'string' ? jsonOfText(item) : undefined;
  return isObject(parsed) ? parsed : item;
}

/**
 * The legacy server exported entity and relation definitions as JSON text (export-import.md): a document it
 * wrote imports like one Rocket wrote, so a legacy app's schema moves over without hand-editing.
 */
function legacyDefinitionTexts(sent: Json): Json {
  const texts = (key: string) => {
    const v = ownValue(sent, key);
    return Array.isArray(v) && v.some((item) => typeof item === 'string');
  };
  if (!texts('entities') && !texts('relations')) return sent;
  // Spread defines own keys: a `__proto__` key of the body stays a key.
  const out: Json = { ...sent };
  for (const key of ['entities', 'relations']) if (texts(key)) out[key] = (sent[key] as unknown[]).map(objectOfText);
  return out;
}

async function importUnlocked(
  app: AdminApp,
  sections: readonly TransferSection[],
  body: unknown,
  sampleRows?: SampleRowHook,
  created?: (change: AdminChange) => Promise<void>,
): Promise<ImportResult> {
  if (!isObject(body)) throw invalidPayload();
  const log = async (collection: string, after: unknown, before: unknown = null) => {
    const item = isObject(after) ? after : {};
    const key = item.id ?? item.name;
    await created?.({
      collection,
      key: typeof key === 'string' || typeof key === 'number' ? String(key) : null,
      action: before === null ? 'create' : 'update',
      before,
      after,
    });
  };
  const sent = legacyDefinitionTexts(unwrapped(body));
  // The body may hold ExactNumber values (numbers a double would round, parsed exactly). Sample rows keep them,
  // so a bigint, decimal or json value stores the digits sent, and so do the sections whose admin APIs keep them
  // (a rule threshold, a field default or enum value, a state-machine or workflow set_field value, a permission
  // condition value beyond a double: an export re-imports as it was); the rest of the metadata is read as plain
  // numbers, as its admin API reads it. isObject counts no ExactNumber as an object, so one in place of an item
  // or row is refused as such.
  // fromEntries and spread define own keys: a `__proto__` key (the command line parses without refusing one) stays a key.
  const part = (exact: boolean) => Object.fromEntries(Object.entries(sent).filter(([key]) => EXACT_SECTIONS.has(key) === exact));
  const doc: Json = { ...(plainNumbers(part(false)) as Json), ...part(true) };
  // JSON text of the version: a string "1" must not read as version 1.
  if (doc.version !== 1) throw invalid(`Unsupported export version: ${doc.version === undefined ? '' : JSON.stringify(doc.version)}`);

  const errors: string[] = [];
  // Shapes no item step would mention: a section that is no array, items that are no objects.
  const sectionKeys = ['entities', 'relations', 'rules', 'state_machines', 'permissions', ...SPEC_SECTIONS, ...sections.map((s) => s.key)];
  for (const key of new Set(sectionKeys)) {
    const v = doc[key];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v)) errors.push(`${key}: must be an array; skipped`);
    else
      v.forEach((item, i) => {
        if (!isObject(item)) errors.push(`${key}[${i}]: must be an object; skipped`);
      });
  }
  if (doc.sample_data !== undefined && doc.sample_data !== null && !isObject(doc.sample_data)) {
    errors.push('sample_data: must be an object; skipped');
  }
  const summary: Record<string, number> = {
    entities: 0,
    relations: 0,
    rules: 0,
    state_machines: 0,
    workflows: 0,
    permissions: 0,
    webhooks: 0,
    ui_configs: 0,
  };
  const label = (v: unknown) => (isObject(v) && typeof v.name === 'string' ? v.name : '?');

  // 1. entities
  const importedEntities: string[] = [];
  for (const item of items(doc, 'entities')) {
    if (!isObject(item) || !item.name || !item.table) continue;
    if (app.registry.entities.has(String(item.name))) continue;
    try {
      const def = await createEntity(app, item);
      await log('_entities', def);
      importedEntities.push(def.name);
      summary.entities!++;
    } catch (err) {
      errors.push(`Entity ${label(item)}: ${reason(err)}`);
    }
  }
  // 2. relations
  for (const item of items(doc, 'relations')) {
    if (!isObject(item) || !item.name) continue;
    if (app.registry.relations.has(String(item.name))) continue;
    try {
      await log('_relations', await createRelation(app, item));
      summary.relations!++;
    } catch (err) {
      errors.push(`Relation ${label(item)}: ${reason(err)}`);
    }
  }
  // Steps 3-8 store their items without a reload each; importSchema reloads once at the end. They are checked
  // against entities and relations only (reloaded as steps 1 and 2 stored them), and a reload reads all the
  // metadata and makes every other instance read it too: one per item made a large import quadratic.
  const batch: AdminApp = { name: app.name, db: app.db, registry: app.registry, reload: async () => undefined };
  // 3. rules — the same entity, hook, type and definition is the same rule, compared as saving stores them
  // (thresholds as numbers, empty and default keys dropped), so an export re-imported matches what it exported
  const ruleKeys = new Set((await listRules(app)).map((r) => storedRuleKey(app, r)));
  for (const item of items(doc, 'rules')) {
    if (!isObject(item)) continue;
    const ruleLabel = `Rule (${String(item.entity ?? '?')}/${String(item.hook ?? '?')})`;
    let rule: RuleInput;
    try {
      rule = parseRule(item, app.registry);
    } catch (err) {
      errors.push(`${ruleLabel}: ${reason(err)}`);
      continue;
    }
    const key = ruleKey(rule);
    if (ruleKeys.has(key)) continue;
    const inverted = invertedRuleReason(item, doc.sample_data, new Date());
    if (inverted !== undefined) {
      errors.push(`${ruleLabel}: ${inverted}`);
      continue;
    }
    try {
      await log('_rules', await createRule(batch, rule));
      ruleKeys.add(key);
      summary.rules!++;
    } catch (err) {
      errors.push(`${ruleLabel}: ${reason(err)}`);
    }
  }
  // 4. state machines — one per entity and field
  const machineKeys = new Set((await listStateMachines(app)).map((m) => `${m.entity}\u0000${m.field}`));
  for (const item of items(doc, 'state_machines')) {
    if (!isObject(item)) continue;
    const key = `${String(item.entity)}\u0000${String(item.field)}`;
    if (machineKeys.has(key)) continue;
    try {
      await log('_state_machines', await createStateMachine(batch, item));
      machineKeys.add(key);
      summary.state_machines!++;
    } catch (err) {
      errors.push(`State machine (${String(item.entity)}/${String(item.field)}): ${reason(err)}`);
    }
  }
  // 5. workflows, 7. webhooks, 8. UI configs come from their features (sections), in spec order around 6.
  const runSection = async (section: TransferSection) => {
    const seen = new Set<string>();
    summary[section.key] ??= 0;
    for (const item of items(doc, section.key)) {
      try {
        const imported = await section.importItem(batch, item, seen);
        if (imported) {
          summary[section.key]!++;
          await log(`_${section.key}`, imported.stored, imported.replaced ?? null);
        }
      } catch (err) {
        errors.push(`${section.errorLabel(item)}: ${reason(err)}`);
      }
    }
  };
  for (const key of SPEC_SECTIONS) {
    const list = items(doc, key);
    if (list.length && !sections.some((s) => s.key === key)) errors.push(`${key}: not supported by this server; ${list.length} item(s) skipped`);
  }
  for (const section of sections) if (BEFORE_PERMISSIONS.has(section.key)) await runSection(section);
  // 6. permissions — identical policies are skipped
  const policyKeys = new Set((await listPermissions(app.db)).map((p) => canonical([p.entity, p.action, [...p.roles].sort(), p.conditions])));
  for (const item of items(doc, 'permissions')) {
    if (!isObject(item)) continue;
    try {
      const input = parsePermissionInput(item);
      const key = canonical([input.entity, input.action, [...input.roles].sort(), input.conditions]);
      if (policyKeys.has(key)) continue;
      await log('_permissions', await createPermission(batch, item));
      policyKeys.add(key);
      summary.permissions!++;
    } catch (err) {
      errors.push(`Permission (${String(item.entity)}/${String(item.action)}): ${reason(err)}`);
    }
  }
  for (const section of sections) if (!BEFORE_PERMISSIONS.has(section.key)) await runSection(section);

  // 9. sample data
  if (isObject(doc.sample_data) && Object.keys(doc.sample_data).length > 0) {
    summary.records = await importSampleData(app, doc.sample_data, importedEntitiesOf(doc), joinTablesOf(app, doc), errors, sampleRows);
  }
  const result: ImportResult = { message: 'Import completed', summary };
  if (errors.length) result.errors = errors;
  return result;
}

/** Entity names of the payload in order, each once (a name given twice seeds its rows once). */
function importedEntitiesOf(doc: Json): string[] {
  return [...new Set(items(doc, 'entities').flatMap((e) => (isObject(e) && typeof e.name === 'string' ? [e.name] : [])))];
}

/**
 * Join tables of the payload's many_to_many relations as stored: a relation the import refused (or one of that
 * name stored with other keys) names no table of its own, and sample rows must never reach any other table
 * (a system table such as `_permissions` or `_users`) through it.
 */
function joinTablesOf(app: AdminApp, doc: Json): Map<string, { a: string; b: string }> {
  const tables = new Map<string, { a: string; b: string }>();
  for (const item of items(doc, 'relations')) {
    const def = isObject(item) && typeof item.name === 'string' ? app.registry.relations.get(item.name)?.def : undefined;
    if (def?.type === 'many_to_many' && def.join_table && def.source_join_key && def.target_join_key) {
      tables.set(def.join_table, { a: def.source_join_key, b: def.target_join_key });
    }
  }
  return tables;
}

/** The rows of one `sample_data` key that are objects; a value or row of another shape is reported and skipped. */
function sampleRowsOf(data: Json, key: string, errors: string[]): Json[] {
  const rows = ownValue(data, key);
  if (rows === undefined || rows === null) return [];
  if (!Array.isArray(rows)) {
    errors.push(`Record ${key}: rows must be an array; skipped`);
    return [];
  }
  // isObject counts no ExactNumber (a number parsed with its exact digits) as a row.
  return rows.filter((row: unknown, i): row is Json => {
    if (!isObject(row)) errors.push(`Record ${key}: row ${i} must be an object; skipped`);
    return isObject(row);
  });
}

/**
 * Seed rows go straight into the tables: declared fields only, no validation,
 * rules or engine defaults; conflicts are skipped silently.
 */
async function importSampleData(
  app: AdminApp,
  data: Json,
  entityOrder: string[],
  joinTables: Map<string, { a: string; b: string }>,
  errors: string[],
  hook: SampleRowHook | undefined,
): Promise<number> {
  let inserted = 0;
  for (const name of entityOrder) {
    const entity = app.registry.entities.get(name);
    if (!entity) continue;
    const rows = sampleRowsOf(data, name, errors);
    const pk = entity.def.primary_key;
    const identity = pk.generated && pk.type !== 'uuid';
    // Rows with their own keys leave the identity behind them: a later row without one (in this import, or the
    // next create) would take a key they hold and, as a conflict, be dropped.
    let identityBehind = false;
    for (const row of rows) {
      const fields = entity.fieldList.filter((f) => Object.hasOwn(row, f.name));
      if (fields.length === 0) continue;
      const ownKey = identity && (ownValue(row, pk.field) ?? null) !== null;
      if (identityBehind && !ownKey) {
        await continueIdentity(app.db, entity.def.table, pk.field);
        identityBehind = false;
      }
      if (ownKey) identityBehind = true;
      const bound = new Params();
      const sql = insertSampleSql(
        entity,
        fields.map((f) => [f, row[f.name]]),
        bound,
      );
      const params = bound.list;
      try {
        if (hook?.wants(entity)) {
          inserted += await app.db.transaction(async (tx) => {
            const stored = await tx.query<Record<string, unknown>>(sql, params);
            for (const r of stored) await hook.inserted(tx, entity, r);
            return stored.length;
          });
        } else {
          inserted += (await app.db.query(sql, params)).length;
        }
      } catch (err) {
        errors.push(`Record ${name}: ${reason(err)}`);
      }
    }
    if (identityBehind) await continueIdentity(app.db, entity.def.table, pk.field);
  }
  for (const [table, keys] of joinTables) {
    for (const row of sampleRowsOf(data, table, errors)) {
      if (ownValue(row, keys.a) === undefined || ownValue(row, keys.b) === undefined) continue;
      try {
        const res = await app.db.query(
          `INSERT INTO ${quoteIdent(table)} (${quoteIdent(keys.a)}, ${quoteIdent(keys.b)}) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1`,
          [String(row[keys.a]), String(row[keys.b])],
        );
        inserted += res.length;
      } catch (err) {
        errors.push(`Record ${table}: ${reason(err)}`);
      }
    }
  }
  return inserted;
}
