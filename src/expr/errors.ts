/** Errors raised by the expression language. */

/** A problem found while compiling: bad syntax, unknown variable or function, forbidden name, limit. */
export class ExprCompileError extends Error {
  /** 0-based character offset into the source. */
  readonly position: number;

  constructor(message: string, position: number) {
    super(message);
    this.name = 'ExprCompileError';
    this.position = position;
  }
}

/** A problem found while evaluating: wrong argument type, budget exhausted, ... */
export class ExprRuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExprRuntimeError';
  }
}

/** "invalid expression: <message> at <position>" — the text the admin API shows. */
export function formatCompileError(e: ExprCompileError): string {
  return `invalid expression: ${e.message} at ${e.position}`;
}

/** Wrap anything thrown during evaluation into an ExprRuntimeError. */
export function toRuntimeError(e: unknown): ExprRuntimeError {
  if (e instanceof ExprRuntimeError) return e;
  if (e instanceof RangeError) {
    return new ExprRuntimeError(`evaluation failed: ${e.message || 'range error'}`);
  }
  if (e instanceof ExprCompileError) return new ExprRuntimeError(`invalid expression: ${e.message}`);
  if (e instanceof Error) return new ExprRuntimeError(`evaluation failed: ${e.message}`);
  return new ExprRuntimeError('evaluation failed');
}
