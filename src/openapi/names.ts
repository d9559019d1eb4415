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

/** A lower-case snake_case name: the spelling its PascalCase stands for (`User_profile` and `userProfile` are not). */
const CANONICAL = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

/**
 * One base name per entity such that no component name of one entity equals another's or a shared
 * component's (`customer_list` and `customer` would both want `CustomerList`). Canonical names claim
 * their stem first, then the others, each group in name order; a clash adds a number. So the outcome
 * depends only on the set of names, and adding `User_profile` never renames `user_profile`'s operations.
 */
export function baseNames(entities: readonly string[], shared: ReadonlySet<string>): Map<string, string> {
  const taken = new Set(shared);
  const out = new Map<string, string>();
  const canonicalFirst = [...entities].sort((a, b) => Number(!CANONICAL.test(a)) - Number(!CANONICAL.test(b)) || (a < b ? -1 : a > b ? 1 : 0));
  for (const entity of canonicalFirst) {
    const stem = pascal(entity);
    let base = stem;
    for (let n = 2; SCHEMA_SUFFIXES.some((s) => taken.has(base + s)); n++) base = `${stem}${n}`;
    for (const s of SCHEMA_SUFFIXES) taken.add(base + s);
    out.set(entity, base);
  }
  return out;
}
