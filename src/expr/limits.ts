/** Hard limits of the expression language (expressions.md §Errors and limits). */

/** Maximum source length, in UTF-8 bytes. */
export const MAX_SOURCE_LENGTH = 4096;
/** Maximum syntactic nesting (parentheses, brackets, calls, unary operators, branches). */
export const MAX_NESTING_DEPTH = 64;
/** Evaluation steps per evaluate() call; every node evaluated and every list element visited counts. */
export const STEP_BUDGET = 100_000;
/** Maximum length of a string the evaluator builds (concatenation, string(), ...). */
export const MAX_STRING_LENGTH = 1024 * 1024;
/** Forbidden as member names, keys and identifiers in every syntax. */
export const FORBIDDEN_NAMES: ReadonlySet<string> = new Set(['constructor', '__proto__', 'prototype']);
