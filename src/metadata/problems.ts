import { ForeignKeyViolation } from '../db/pg-errors.js';
import { RocketError, invalid, type ErrorDetail } from '../errors.js';

/** Collects definition problems with their paths; one 422 carries them all, led by the first. */
export class Problems {
  readonly list: ErrorDetail[] = [];

  add(path: string, message: string): void {
    this.list.push({ field: path, rule: 'definition', message });
  }

  get empty(): boolean {
    return this.list.length === 0;
  }

  throwIfAny(): void {
    if (this.list.length === 0) return;
    throw new RocketError('VALIDATION_FAILED', this.list[0]!.message, this.list);
  }
}

/** A JSON object: not an array, nor an exactly parsed number (an ExactNumber is a Number object). */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Number);

/**
 * Runs the write of a row keyed to an entity (`_rules`, `_state_machines`: their `entity` references `_entities`).
 * The entity was found in the snapshot the row was checked against; deleted since by a concurrent request, the
 * foreign key refuses the row: answered as the check would have answered once the delete was done.
 */
export async function whileEntityExists<T>(entity: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof ForeignKeyViolation) throw invalid(`entity not found: ${entity}`);
    throw err;
  }
}
