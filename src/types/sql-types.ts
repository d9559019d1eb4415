import type { TypedField } from './field-types.js';

/** How a field type is stored: the column type of its DDL and the cast of its bound parameters. */

/** SQL type used to cast a bound parameter for a field type. */
export function sqlType(field: TypedField): string {
  switch (field.type) {
    case 'string':
    case 'text':
      return 'text';
    case 'int':
    case 'integer':
      return 'int4';
    case 'bigint':
      return 'int8';
    case 'float':
      return 'float8';
    case 'decimal':
      return 'numeric';
    case 'boolean':
      return 'bool';
    case 'uuid':
      return 'uuid';
    case 'timestamp':
      return 'timestamptz';
    case 'date':
      return 'date';
    case 'json':
    case 'file':
      return 'jsonb';
  }
}

/** Column type for DDL. */
export function columnType(field: TypedField): string {
  switch (field.type) {
    case 'string':
    case 'text':
      return 'TEXT';
    case 'int':
    case 'integer':
      return 'INTEGER';
    case 'bigint':
      return 'BIGINT';
    case 'float':
      return 'DOUBLE PRECISION';
    case 'decimal':
      return field.precision && field.precision > 0 ? `NUMERIC(18,${field.precision})` : 'NUMERIC';
    case 'boolean':
      return 'BOOLEAN';
    case 'uuid':
      return 'UUID';
    case 'timestamp':
      return 'TIMESTAMPTZ';
    case 'date':
      return 'DATE';
    case 'json':
    case 'file':
      return 'JSONB';
  }
}
