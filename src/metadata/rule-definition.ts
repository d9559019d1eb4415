import { safeRegex } from '../expr/index.js';
import { compileRuleExpression, numericThreshold } from './rule-expression.js';
import { invalid } from '../errors.js';
import { FILTER_OPERATORS } from '../types/filter-operators.js';
import { missingFilterField, type EntityMeta, type Registry } from './registry.js';
import {
  FIELD_RULE_OPERATORS,
  RULE_HOOKS,
  RULE_TYPES,
  type RelatedLoad,
  type RuleDefinition,
  type RuleHook,
  type RuleInput,
  type RuleType,
} from './logic-definitions.js';
import { Params } from '../db/params.js';
import { RocketError } from '../errors.js';
import { filterSql, type ListFilter } from './sql/conditions.js';
import { isObject } from './problems.js';
import type { FieldType } from '../types/field-types.js';
import { ExactNumber } from '../db/exact-number.js';

const empty = (v: unknown) =>
  v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);

const NEVER_NUMBER = new Set<FieldType>(['string', 'text', 'uuid', 'boolean', 'date', 'timestamp', 'file']);
const NEVER_STRING = new Set<FieldType>(['int', 'integer', 'bigint', 'float', 'decimal', 'boolean']);

/** Field-rule keys checked when written, so a stored rule never silently does nothing. */
function checkFieldRule(entity: EntityMeta, def: RuleDefinition): void {
  if (!entity.fields.has(def.field!)) throw invalid(`definition.field: unknown field ${def.field} of entity ${entity.name}`);
  const op = def.operator;
  if (!(FIELD_RULE_OPERATORS as readonly unknown[]).includes(op)) {
    throw invalid(`definition.operator must be one of ${FIELD_RULE_OPERATORS.join(', ')}`);
  }
  // A value of these types never reaches the rule as a number (min, max) or as a string (the others).
  const type = entity.fields.get(def.field!)!.type;
  const numeric = op === 'min' || op === 'max';
  if (numeric ? NEVER_NUMBER.has(type) : NEVER_STRING.has(type)) {
    throw invalid(`definition.field: ${op} needs a ${numeric ? 'number' : 'string'} field; ${def.field} is of type ${type}`);
  }
  if (def.value === undefined) throw invalid(`definition.value is required for ${op}`);
  if (op === 'pattern') {
    if (typeof def.value !== 'string') throw invalid('definition.value must be a regular expression string for pattern');
    try {
      safeRegex(def.value);
    } catch (err) {
      throw invalid(`definition.value: ${(err as Error).message}`);
    }
    return;
  }
  const n = numericThreshold(def.value);
  if (n === undefined) throw invalid(`definition.value must be a number for ${op}`);
  if (op === 'min_length' || op === 'max_length') {
    // No string is 2^53 code points long: a length that large is as good as its nearest double.
    const length = typeof n === 'number' ? n : /^\d+$/.test(n.digits) ? Number(n) : Number.NaN;
    if (!Number.isInteger(length) || length < 0) throw invalid(`definition.value must be a non-negative integer for ${op}`);
    def.value = length;
    return;
  }
  def.value = n;
}

/** A related_load filter as list filters, its values as a query string would carry them. */
export function relatedLoadFilters(filter: Record<string, unknown> | undefined): ListFilter[] {
  return Object.entries(filter ?? {}).map(([key, value]) => ({ key, value: Array.isArray(value) ? value.map(String) : String(value) }));
}

const scalar = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v instanceof ExactNumber;

function relatedLoad(registry: Registry, entity: EntityMeta, raw: unknown): RelatedLoad[] {
  if (!Array.isArray(raw)) throw invalid('related_load must be an array of {relation, filter}');
  return raw.map((item, i) => {
    if (!isObject(item) || typeof item.relation !== 'string') throw invalid(`related_load[${i}].relation is required`);
    const use = registry.resolve(entity, item.relation);
    if (!use?.forward) throw invalid(`related_load[${i}].relation: no relation ${item.relation} from ${entity.name}`);
    const out: RelatedLoad = { relation: item.relation };
    if (item.filter !== undefined && item.filter !== null) {
      if (!isObject(item.filter)) throw invalid(`related_load[${i}].filter must be an object`);
      const missing = missingFilterField(use, item.filter);
      if (missing !== undefined) throw invalid(`related_load[${i}].filter: unknown field ${missing}`);
      for (const key of Object.keys(item.filter)) {
        const op = key.split('.')[1] ?? 'eq';
        if (!(FILTER_OPERATORS as readonly string[]).includes(op)) throw invalid(`related_load[${i}].filter: unknown operator ${op}`);
        const value = item.filter[key];
        if (!(scalar(value) || (Array.isArray(value) && value.every(scalar)))) {
          throw invalid(`related_load[${i}].filter: ${key} must be a string, number or boolean (a list of them for in / not_in)`);
        }
      }
      // The values as every write will bind them: one the field's type refuses would fail each write of the entity.
      try {
        filterSql(use.relation.target, relatedLoadFilters(item.filter), new Params());
      } catch (err) {
        if (err instanceof RocketError) throw invalid(`related_load[${i}].filter: ${err.message}`);
        throw err;
      }
      if (Object.keys(item.filter).length) out.filter = item.filter;
    }
    return out;
  });
}

/**
 * Validates a rule (spec: rules.md): messages of the admin API, expressions
 * compiled now so a bad one is never stored. Empty definition keys are dropped.
 */
export function parseRule(body: Record<string, unknown>, registry: Registry): RuleInput {
  const entityName = body.entity;
  if (empty(entityName)) throw invalid('entity is required');
  const entity = typeof entityName === 'string' ? registry.entities.get(entityName) : undefined;
  if (!entity) throw invalid(`entity not found: ${String(entityName)}`);
  // Required (rules.md §Rule object), unlike a webhook's hook; the column default serves only rows written without the API.
  // A missing one gets the spec's one hook message with an empty name.
  const hook = body.hook;
  if (!(RULE_HOOKS as readonly unknown[]).includes(hook)) {
    throw invalid(`invalid hook: ${hook === undefined || hook === null ? '' : String(hook)} (must be before_write or before_delete)`);
  }
  const type = body.type;
  if (!(RULE_TYPES as readonly unknown[]).includes(type)) {
    throw invalid(`invalid rule type: ${String(type ?? '')} (must be field, expression, or computed)`);
  }
  const raw = body.definition ?? {};
  if (!isObject(raw)) throw invalid('definition must be an object');
  const definition: RuleDefinition = {};
  for (const key of ['field', 'operator', 'expression', 'message'] as const) {
    if (!empty(raw[key])) {
      if (typeof raw[key] !== 'string') throw invalid(`definition.${key} must be a string`);
      definition[key] = raw[key] as string;
    }
  }
  if (!empty(raw.value)) definition.value = raw.value;
  if (raw.stop_on_fail !== undefined && raw.stop_on_fail !== null && typeof raw.stop_on_fail !== 'boolean') {
    throw invalid('definition.stop_on_fail must be a boolean');
  }
  if (raw.stop_on_fail === true) definition.stop_on_fail = true;
  if (!empty(raw.related_load)) definition.related_load = relatedLoad(registry, entity, raw.related_load);

  if (type === 'field' && !definition.field) throw invalid('definition.field is required for field rules');
  if (type === 'field') checkFieldRule(entity, definition);
  if (type === 'computed' && !definition.field) throw invalid('definition.field is required for computed rules');
  if (type === 'expression' || type === 'computed') compileRuleExpression(definition.expression, 'definition.expression');

  const priority = body.priority ?? 0;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || Math.abs(priority) > 2147483647) {
    throw invalid('priority must be an integer');
  }
  const active = body.active ?? true;
  if (typeof active !== 'boolean') throw invalid('active must be a boolean');
  return { entity: entity.name, hook: hook as RuleHook, type: type as RuleType, definition, priority, active };
}
