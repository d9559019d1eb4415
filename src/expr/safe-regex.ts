/**
 * safeRegex(pattern): a RegExp whose matching runs on Rocket's own linear-time engine
 * (regex-vm.ts), never on the backtracking JS engine. Back-references, look-around and other
 * syntax outside the common RE2/ECMAScript subset are rejected with an Error.
 */
import { MAX_REGEX_WORK } from './limits.js';
import { MAX_PATTERN_LENGTH, parseRegex, type ParsedRegex } from './regex-parse.js';
import { compileRegex, type Program, type SearchResult, vmExec, vmSearch } from './regex-vm.js';

export type { SearchResult };

/**
 * A RegExp (no flags) whose test() and exec() — and so String#match, #search and #replace — use
 * the linear-time engine. split() and matchAll() are not supported.
 *
 * Linear time can still be long (input length × program size), so test() and exec() stop after
 * MAX_REGEX_WORK and then report no match: their caller, the field rule `pattern`, treats a value
 * it cannot check like an invalid pattern — the rule fails (rules.md). The evaluator uses
 * searchWithin() instead, which reports exhaustion so that it becomes a budget error.
 */
export class SafeRegExp extends RegExp {
  readonly #program: Program;
  readonly #names: ReadonlyMap<string, number>;

  constructor(pattern: string, parsed: ParsedRegex) {
    super(pattern);
    this.#program = compileRegex(parsed);
    this.#names = parsed.names;
  }

  override test(input: string): boolean {
    return vmSearch(this.#program, String(input), MAX_REGEX_WORK).matched;
  }

  /** Number of VM instructions: what compiling the pattern cost, and what each input character may cost. */
  get programSize(): number {
    return this.#program.op.length;
  }

  /** Unanchored search that stops once its work passes `maxWork` (see SearchResult). */
  searchWithin(input: string, maxWork: number): SearchResult {
    return vmSearch(this.#program, input, maxWork);
  }

  override exec(input: string): RegExpExecArray | null {
    const s = String(input);
    const caps = vmExec(this.#program, s, MAX_REGEX_WORK);
    if (caps === null) return null;
    const values: (string | undefined)[] = [];
    for (let k = 0; k < caps.length; k += 2) {
      values.push(caps[k] < 0 || caps[k + 1] < 0 ? undefined : s.slice(caps[k], caps[k + 1]));
    }
    const result = values as RegExpExecArray;
    result.index = caps[0];
    result.input = s;
    if (this.#names.size > 0) {
      const groups: Record<string, string | undefined> = Object.create(null) as Record<string, string | undefined>;
      for (const [name, index] of this.#names) groups[name] = values[index];
      result.groups = groups as RegExpExecArray['groups'];
    } else {
      result.groups = undefined;
    }
    return result;
  }

  override [Symbol.split](): string[] {
    throw new Error('split() is not supported on a safe regular expression');
  }

  override [Symbol.matchAll](): RegExpStringIterator<RegExpExecArray> {
    throw new Error('matchAll() is not supported on a safe regular expression');
  }
}

const CACHE_LIMIT = 256;
const cache = new Map<string, SafeRegExp | Error>();

/**
 * Compiles a pattern for unanchored searching (`.test(s)`), safe against catastrophic
 * backtracking. Throws an Error whose message explains an unsafe or invalid pattern.
 */
export function safeRegex(pattern: string): SafeRegExp {
  // Checked before the cache, which must not keep long strings (patterns may come from data).
  if (typeof pattern === 'string' && pattern.length > MAX_PATTERN_LENGTH) {
    throw new Error(`invalid regular expression: pattern too long (max ${MAX_PATTERN_LENGTH} characters)`);
  }
  const hit = cache.get(pattern);
  if (hit !== undefined) {
    if (hit instanceof Error) throw new Error(hit.message);
    return hit;
  }
  let result: SafeRegExp | Error;
  try {
    if (typeof pattern !== 'string') throw new Error('pattern must be a string');
    result = new SafeRegExp(pattern, parseRegex(pattern));
  } catch (e) {
    result = new Error(`invalid regular expression: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(pattern, result);
  if (result instanceof Error) throw new Error(result.message);
  return result;
}
