/** Hard limits of the expression language (expressions.md §Errors and limits). */

/** Maximum source length, in UTF-8 bytes. */
export const MAX_SOURCE_LENGTH = 4096;
/** Maximum syntactic nesting (parentheses, brackets, calls, unary operators, branches). */
export const MAX_NESTING_DEPTH = 64;
/**
 * Expression strings (`sum(items, 'qty * price')`) evaluated inside one another. Each may nest
 * MAX_NESTING_DEPTH deep, so this keeps the whole well within the JavaScript stack.
 */
export const MAX_STRING_EXPRESSION_DEPTH = 8;
/** Evaluation steps per evaluate() call; every node evaluated and every list element visited counts. */
export const STEP_BUDGET = 100_000;
/** Maximum length of a string the evaluator builds (concatenation, string(), ...). */
export const MAX_STRING_LENGTH = 1024 * 1024;
/**
 * Maximum total length of all the strings one evaluation builds. Each is capped by
 * MAX_STRING_LENGTH, but without a total `map(list, x => S + S)` could build hundreds of MB.
 */
export const MAX_BUILT_CHARS = 8 * MAX_STRING_LENGTH;
/**
 * Characters an operation may walk per evaluation step: operations whose cost grows with string
 * length (comparison, search, case mapping, numeric parsing, ...) pay one extra step per whole
 * KiB, so short strings cost nothing extra and a budget of 1 MB walks ends in about 0.1 s.
 */
export const CHARS_PER_STEP = 1024;
/** Forbidden as member names, keys and identifiers in every syntax. */
export const FORBIDDEN_NAMES: ReadonlySet<string> = new Set(['constructor', '__proto__', 'prototype']);
/**
 * Characters of a run-time expression string (one computed from data) paid for by one step: it is
 * compiled (or found in the cache) each time a list function receives it, and compiling costs
 * about 0.1 µs per character.
 */
export const SOURCE_CHARS_PER_STEP = 8;
/**
 * Regex search work (instructions the linear-time VM visits) bought by one evaluation step. A
 * visit costs a few nanoseconds, so a whole budget of regex work ends in about 0.1 s, like a
 * budget of other steps, while `(a|b)*c` on a 1 MB string (~12 visits per character) fits.
 */
export const REGEX_WORK_PER_STEP = 256;
/**
 * Regex program instructions paid for by one step each time `matches` runs: a pattern computed
 * from data is compiled unless cached, at about 50 ns per instruction, and patterns of up to
 * 1 KB can expand to 20,000 instructions. Charged on cache hits too, so that limits do not
 * depend on what ran before; ordinary patterns (under 16 instructions) pay nothing.
 */
export const REGEX_INSTS_PER_STEP = 16;
/** Work allowed to one regex search outside an evaluation (field rules' `pattern`): one step budget's worth. */
export const MAX_REGEX_WORK = STEP_BUDGET * REGEX_WORK_PER_STEP;
