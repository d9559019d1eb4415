import { engineWritten, type EntityMeta, type FieldMeta } from '../metadata/registry.js';
import type { FieldType } from '../types/field-types.js';
import type { FilterOp } from '../types/filter-operators.js';
import { coerceInput } from '../types/coerce.js';
import { schemaRef, type Schema } from './types.js';

/** JSON Schemas of field values (spec: rest-api.md §Value encoding; openapi.md §What it describes). */

/** The non-null form of a value of this type, as responses carry it and requests send it. */
function valueSchema(type: FieldType): Schema {
  switch (type) {
    case 'string':
    case 'text':
      return { type: 'string' };
    case 'int':
    case 'integer':
      return { type: 'integer', format: 'int32' };
    case 'bigint':
      // Responses keep every digit of values beyond 2^53 (they stay JSON numbers).
      return { type: 'integer', format: 'int64' };
    case 'float':
      return { type: 'number', format: 'double' };
    case 'decimal':
      return { type: 'number' };
    case 'boolean':
      return { type: 'boolean' };
    case 'uuid':
      return { type: 'string', format: 'uuid' };
    case 'timestamp':
      return { type: 'string', format: 'date-time' };
    case 'date':
      return { type: 'string', format: 'date' };
    case 'json':
      return {};
    case 'file':
      return schemaRef('FileRef');
  }
}

/** Adds `null` to a schema: a type list for plain types, `anyOf` for references. */
function orNull(schema: Schema): Schema {
  if (Object.keys(schema).length === 0) return schema; // any JSON value, null included
  if ('$ref' in schema) return { anyOf: [schema, { type: 'null' }] };
  if (Array.isArray(schema.anyOf)) return { ...schema, anyOf: [...(schema.anyOf as Schema[]), { type: 'null' }] };
  const out: Schema = { ...schema, type: [schema.type, 'null'] };
  if (Array.isArray(schema.enum)) out.enum = [...(schema.enum as unknown[]), null];
  return out;
}

/**
 * The JSON value a member of `f.enum` stands for: the API compares the text form of the coerced value with the
 * members (engine/field-value.ts), so `"2"` on an int field is the number 2 and `"true"` on a boolean is true.
 * Undefined for a member no value of the type reaches (`"02"`, `"x"` on an int field; an upper-case uuid), and for
 * timestamps, which responses write in another form than the member a request matched.
 */
function enumValue(f: FieldMeta, member: string): unknown {
  let candidate: unknown;
  switch (f.type) {
    case 'int':
    case 'integer':
    case 'bigint':
    case 'float':
      candidate = Number(member);
      break;
    case 'decimal':
      // More places than the column keeps: the stored (rounded) value is then no member.
      if (f.precision && (member.split('.')[1]?.length ?? 0) > f.precision) return undefined;
      candidate = Number(member);
      break;
    case 'boolean':
      candidate = member === 'true' ? true : member === 'false' ? false : undefined;
      break;
    case 'string':
    case 'text':
    case 'uuid':
    case 'date':
      candidate = member;
      break;
    default:
      return undefined;
  }
  const coerced = candidate === undefined ? undefined : coerceInput(f, candidate);
  return coerced?.ok && coerced.value !== null && String(coerced.value) === member ? candidate : undefined;
}

/** `f.enum` as values of the field's type, or undefined when it has none (or none a value can match). */
function enumValues(f: FieldMeta): unknown[] | undefined {
  // A bigint member beyond ±2^53 travels as digits, which an enum of numbers cannot hold.
  if (f.type === 'bigint' && f.enum?.some((m) => /^-?[1-9][0-9]*$/.test(m) && !Number.isSafeInteger(Number(m)))) return undefined;
  const values = new Set((f.enum ?? []).map((m) => enumValue(f, m)).filter((v) => v !== undefined));
  return values.size ? [...values] : undefined;
}

function withEnum(f: FieldMeta, schema: Schema): Schema {
  if (!f.enum || f.enum.length === 0) return schema;
  const values = enumValues(f);
  if (!values) return { ...schema, description: `One of: ${f.enum.join(', ')}` };
  return { ...schema, enum: values };
}

/** A field whose stored value is never null: the primary key and required non-nullable fields (auto timestamps are null in rows imported as sample data). */
export function neverNull(entity: EntityMeta, f: FieldMeta): boolean {
  return f === entity.pk || (f.required === true && !f.nullable);
}

const DELETED_AT_FIELD = 'deleted_at';

/** A declared `deleted_at` of a soft-delete entity: the engine's marker, null in every answer (rest-api.md). */
export function softDeleteMarker(entity: EntityMeta, f: FieldMeta): boolean {
  return entity.softDelete && f.name === DELETED_AT_FIELD;
}

function describe(entity: EntityMeta, f: FieldMeta): string | undefined {
  const notes: string[] = [];
  if (f === entity.pk) notes.push(entity.def.primary_key.generated ? 'Primary key, generated.' : 'Primary key.');
  if (f.auto === 'create') notes.push('Set when the record is created.');
  if (f.auto === 'update') notes.push('Set on every write.');
  if (f.unique) notes.push('Unique.');
  if (entity.def.slug?.field === f.name) {
    notes.push(entity.def.slug.source ? `Slug, generated from ${entity.def.slug.source} when absent.` : 'Slug.');
  }
  return notes.length ? notes.join(' ') : undefined;
}

/**
 * The state machine on a field, as `x-rocket-state-machine`: the initial state and each transition's
 * states and roles, so a client (the console's record form) offers only the moves the API would take
 * from the current state. Guards are left out: they are expressions over the record, evaluated by the
 * API, and may name data the caller is not shown.
 */
function machineOf(entity: EntityMeta, f: FieldMeta): Schema | undefined {
  const m = entity.machines.find((x) => x.field === f.name);
  if (!m) return undefined;
  return {
    ...(m.initial !== undefined ? { initial: m.initial } : {}),
    transitions: m.transitions.map((t) => ({ from: [...t.from], to: t.to, ...(t.roles.length ? { roles: t.roles } : {}) })),
  };
}

/**
 * A field as records carry it. `nullInRows`: its column admits NULL although the definition says the value never
 * is (a required field added to a table with rows, see null-columns.ts), so rows may carry null.
 */
export function recordFieldSchema(entity: EntityMeta, f: FieldMeta, nullInRows = false): Schema {
  if (softDeleteMarker(entity, f)) return { type: 'null', readOnly: true, description: 'Soft-delete marker; always null in responses.' };
  let schema = withEnum(f, valueSchema(f.type));
  if (!neverNull(entity, f) || nullInRows) schema = orNull(schema);
  if (engineWritten(entity, f)) schema = { ...schema, readOnly: true };
  const machine = machineOf(entity, f);
  if (machine) schema = { ...schema, 'x-rocket-state-machine': machine };
  // JSON Schema has no "long text": this is how a client (the console's form for app users) tells it from a string.
  if (f.type === 'text') schema = { ...schema, 'x-rocket-type': 'text' };
  const description = describe(entity, f);
  return description ? { ...schema, description } : schema;
}

/** A field as create / update bodies send it. */
export function inputFieldSchema(entity: EntityMeta, f: FieldMeta): Schema {
  let schema: Schema;
  if (f.type === 'file') {
    schema = {
      anyOf: [
        { type: 'string', format: 'uuid', description: 'Id of an uploaded file' },
        // An object is stored as given (files.md) and read back as the value: only FileRef's shape keeps records valid.
        schemaRef('FileRef'),
        { type: 'string', description: 'A JSON object with a file id, as text (parsed and stored as that object)' },
      ],
    };
  } else if (f.type === 'bigint' && !enumValues(f)) {
    // A JSON number beyond 2^53 has lost digits before any server reads it: such values travel as digit strings.
    schema = withEnum(f, {
      anyOf: [valueSchema('bigint'), { type: 'string', pattern: '^-?[0-9]{1,19}$', description: 'The integer as digits (needed beyond ±2^53)' }],
    });
  } else {
    schema = withEnum(f, valueSchema(f.type));
  }
  // A key the client chooses is required on create (metadata.md: generated false), whatever the field says.
  const required = (f.required && !f.nullable) || (f === entity.pk && !entity.def.primary_key.generated);
  const machine = machineOf(entity, f);
  // A required field cannot be null or "" (a 422), so only optional ones take null; nor can a state field,
  // whose null is the state "" that no transition leaves (state-machines.md).
  if (!required && !machine) schema = orNull(schema);
  if (required && schema.type === 'string') schema = { ...schema, minLength: 1 };
  // Any JSON value but the two a required field refuses (rest-api.md: present, non-null and not "").
  if (required && Object.keys(schema).length === 0) schema = { not: { enum: [null, ''] } };
  const notes: string[] = [];
  const d = describe(entity, f);
  if (d) notes.push(d);
  if (machine) {
    const initial = typeof machine.initial === 'string' && machine.initial !== '' ? machine.initial : undefined;
    notes.push(
      `State field: ${initial ? `a create may set only '${initial}'` : 'a create may set any state'}; an update only a transition ` +
        'from the current state (x-rocket-state-machine).',
    );
    schema = { ...schema, 'x-rocket-state-machine': machine };
  }
  // Not as `default`: code generators (openapi-typescript) make defaulted properties mandatory.
  if (f.default !== undefined) {
    // A Number object is an ExactNumber (a bigint default beyond 2^53): its digits, not JSON's quoted string.
    notes.push(`Default: ${f.default instanceof Number ? String(f.default) : JSON.stringify(f.default)}.`);
    schema = { ...schema, 'x-rocket-default': f.default };
  }
  return notes.length ? { ...schema, description: notes.join(' ') } : schema;
}

const ORDERED: readonly FilterOp[] = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'not_in'];

/** The list-filter operators a field accepts (json and file fields cannot be filtered). */
export function filterOperators(type: FieldType): readonly FilterOp[] {
  switch (type) {
    case 'string':
    case 'text':
      return [...ORDERED, 'like'];
    case 'json':
    case 'file':
      return [];
    default:
      return ORDERED;
  }
}

/** The query value of `filter[<field>.<op>]`. */
export function filterValueSchema(f: FieldMeta, op: FilterOp): Schema {
  if (op === 'in' || op === 'not_in') return { type: 'string', description: 'Comma-separated values' };
  if (op === 'like') return { type: 'string', description: 'LIKE pattern: % and _ are wildcards, \\ escapes' };
  const values = enumValues(f);
  return values ? { ...valueSchema(f.type), enum: values } : valueSchema(f.type);
}
