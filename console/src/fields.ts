import type { AppModel, EntityDef, FieldDef } from './model';

/** Filter operators the list API accepts for a field of each type (rest-api.md). */
export function operatorsFor(f: FieldDef): string[] {
  switch (f.type) {
    case 'string':
    case 'text':
      // the API compares strings with every comparison operator: ≥ and ≤ too, not only > and <
      return f.enum ? ['eq', 'neq', 'in', 'not_in'] : ['eq', 'neq', 'like', 'in', 'not_in', 'gt', 'gte', 'lt', 'lte'];
    case 'int':
    case 'integer':
    case 'bigint':
    case 'float':
    case 'decimal':
      return ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'not_in'];
    case 'boolean':
      return ['eq', 'neq'];
    case 'uuid':
      return ['eq', 'neq', 'in', 'not_in'];
    case 'timestamp':
    case 'date':
      return ['eq', 'neq', 'gt', 'gte', 'lt', 'lte'];
    default:
      return []; // json and file fields cannot be filtered
  }
}

export const OPERATOR_LABELS: Record<string, string> = {
  eq: '=',
  neq: '≠',
  gt: '>',
  gte: '≥',
  lt: '<',
  lte: '≤',
  like: 'matches (% wildcard)',
  in: 'is one of (comma list)',
  not_in: 'is none of (comma list)',
};

/** An operator's name in the filter builder: an enum field's list operators pick values, nobody types a comma list. */
export function operatorLabel(f: FieldDef | undefined, op: string): string {
  if (f?.enum && op === 'in') return 'is one of';
  if (f?.enum && op === 'not_in') return 'is none of';
  return OPERATOR_LABELS[op] ?? op;
}

/** Fields a person fills in: not generated keys, not automatic timestamps, not fields a computed rule writes. */
export function editableFields(e: EntityDef): FieldDef[] {
  return e.fields.filter((f) => !(f.name === e.primary_key.field && e.primary_key.generated) && !f.auto && !f.computed && f.name !== 'deleted_at');
}

/**
 * A field the API refuses a new record without: required, not nullable, no default — and not the slug
 * field of an entity whose slug has a source, which the API fills in (metadata.md §4).
 */
export function mustFill(e: EntityDef, f: FieldDef): boolean {
  if (e.slug?.source && e.slug.field === f.name) return false;
  return Boolean(f.required && !f.nullable && f.default === undefined);
}

/** A field to show for a record in pickers and titles: the first string field, else the key. */
export function displayField(e: EntityDef): string {
  const pref = e.fields.find((f) => /^(name|title|label|email|number|code|subject)$/i.test(f.name) && (f.type === 'string' || f.type === 'text'));
  return (pref ?? e.fields.find((f) => f.type === 'string' && f.name !== e.primary_key.field) ?? { name: e.primary_key.field }).name;
}

export function defaultColumns(m: AppModel, e: EntityDef): string[] {
  const cfg = m.ui[e.name];
  const hidden = new Set([...(cfg?.hidden ?? []), ...(cfg?.hidden_fields ?? [])]);
  const order = cfg?.columns ?? cfg?.column_order;
  const names = e.fields.map((f) => f.name).filter((n) => !hidden.has(n));
  if (order?.length) return order.filter((n) => names.includes(n));
  return names.filter((n) => e.fields.find((f) => f.name === n)?.type !== 'json').slice(0, 7);
}

export function formatCell(f: FieldDef | undefined, v: unknown): string {
  if (v === null || v === undefined) return '';
  if (!f) return typeof v === 'object' ? JSON.stringify(v) : String(v);
  switch (f.type) {
    case 'boolean':
      return v ? 'Yes' : 'No';
    case 'timestamp':
      return new Date(String(v)).toLocaleString();
    case 'file':
      return (v as { filename?: string }).filename ?? '';
    case 'json': {
      const s = JSON.stringify(v);
      return s.length > 60 ? `${s.slice(0, 57)}…` : s;
    }
    default:
      return String(v);
  }
}

/** `<input type=datetime-local>` value for an RFC 3339 timestamp, in the browser's time zone. */
export function toLocalInput(v: unknown): string {
  if (typeof v !== 'string' || !v) return '';
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
