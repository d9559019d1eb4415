import postgres from 'postgres';
import { RocketError, conflict, invalidPayload, validationFailed } from '../errors.js';

/** PostgreSQL SQLSTATE → the spec's typed errors. Anything unknown stays a 500. */
export function mapPgError(err: unknown): unknown {
  if (err instanceof RocketError) return err;
  if (!(err instanceof postgres.PostgresError)) return err;
  switch (err.code) {
    case '23505':
      return conflict('A record with this value already exists');
    case '23503':
      return conflict('A related record is missing or still referenced');
    case '23502':
      return validationFailed('Validation failed', [
        { field: err.column_name, rule: 'required', message: `${err.column_name ?? 'field'} is required` },
      ]);
    case '22P02': // invalid_text_representation
    case '22007': // invalid_datetime_format
    case '22008': // datetime_field_overflow
    case '22003': // numeric_value_out_of_range
    case '22001': // string_data_right_truncation
    case '22021': // character_not_in_repertoire
      return invalidPayload(`Invalid value: ${err.message}`);
    default:
      return err;
  }
}

export function isPgError(err: unknown, code: string): boolean {
  return err instanceof postgres.PostgresError && err.code === code;
}
