/**
 * The one place identifiers become SQL text. Identifiers reaching it come from
 * validated metadata; quoting is the second line of defence.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\u0000')) throw new Error(`invalid identifier: ${JSON.stringify(name)}`);
  return `"${name.replace(/"/g, '""')}"`;
}

/** A string literal for DDL, where bind parameters are not allowed (e.g. column defaults). */
export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) throw new Error('NUL character in literal');
  return `'${value.replace(/'/g, "''")}'`;
}
