import postgres from 'postgres';
import { RocketError, invalidPayload, serviceUnavailable, validationFailed } from '../errors.js';

/** Seconds a client is told to wait after a 503 for lack of a database connection. */
export const RETRY_AFTER_SECONDS = 2;

/**
 * The connection ended under the statement — an administrator terminated the backend, the server is
 * restarting, the network cut it — or the pool is being closed by a shutdown: the database is briefly
 * unavailable, which is a 503, not a defect of Rocket's (500).
 */
const CONNECTION_LOST = new Set(['57P01', '57P02', 'CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED', 'ECONNRESET', 'EPIPE']);

/** PostgreSQL SQLSTATE → the spec's typed errors. Anything unknown stays a 500. */
export function mapPgError(err: unknown): unknown {
  if (err instanceof RocketError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CONNECTION_LOST.has(code)) {
    return serviceUnavailable('The database connection was lost; try again shortly', RETRY_AFTER_SECONDS);
  }
  if (!(err instanceof postgres.PostgresError)) return err;
  switch (err.code) {
    case '23505':
      return new UniqueViolation(err.constraint_name);
    case '23503':
      return new ForeignKeyViolation(err.constraint_name);
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
    case '54000': // program_limit_exceeded; of its cases only an index entry over the size limit comes from a value sent
      if (!/index row/i.test(err.message)) return err;
      return validationFailed('Validation failed', [{ rule: 'type', message: 'A value is too large for the index of its field' }]);
    default:
      return err;
  }
}

/** A unique violation (409), naming the index it broke, so a writer that can pick another value may try again. */
export class UniqueViolation extends RocketError {
  constructor(readonly index: string | undefined) {
    super('CONFLICT', 'A record with this value already exists');
  }
}

/** A foreign key violation (409), naming its constraint, so a caller that knows what the key names can say so. */
export class ForeignKeyViolation extends RocketError {
  constructor(readonly constraint: string | undefined) {
    super('CONFLICT', 'A related record is missing or still referenced');
  }
}

export function isPgError(err: unknown, code: string): boolean {
  return err instanceof postgres.PostgresError && err.code === code;
}
