/** Component and operation names derived from entity names. */

/** `invoice_item` → `InvoiceItem`; a leading underscore or digit keeps the name a valid identifier. */
export function pascal(name: string): string {
  const out = name
    .split('_')
    .filter((part) => part !== '')
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
  if (out === '') return 'Entity';
  return /^[0-9]/.test(out) ? `E${out}` : out;
}

/** The suffixes every entity's component schemas take (`<Entity>`, `<Entity>Create`, …). */
export const SCHEMA_SUFFIXES = ['', 'Create', 'Update', 'List'] as const;

/**
 * One base name per entity such that no component name of one entity equals another's or a shared
 * component's (`customer_list` and `customer` would both want `CustomerList`). Entities are taken in
 * name order and a clash adds a number, so the outcome depends only on the set of names.
 */
export function baseNames(entities: readonly string[], shared: ReadonlySet<string>): Map<string, string> {
  const taken = new Set(shared);
  const out = new Map<string, string>();
  for (const entity of [...entities].sort()) {
    const stem = pascal(entity);
    let base = stem;
    for (let n = 2; SCHEMA_SUFFIXES.some((s) => taken.has(base + s)); n++) base = `${stem}${n}`;
    for (const s of SCHEMA_SUFFIXES) taken.add(base + s);
    out.set(entity, base);
  }
  return out;
}
