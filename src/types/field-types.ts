/** The field types of entity definitions (spec: metadata.md §Field types). */
export const FIELD_TYPES = [
  'string',
  'text',
  'int',
  'integer',
  'bigint',
  'float',
  'decimal',
  'boolean',
  'uuid',
  'timestamp',
  'date',
  'json',
  'file',
] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** What value handling needs of a field: its type and, for decimals, the digits after the point. */
export interface TypedField {
  type: FieldType;
  precision?: number;
}
