import { RocketError, type ErrorDetail } from '../errors.js';

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
