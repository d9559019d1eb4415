/**
 * safeRegex(pattern): a RegExp whose matching runs on Rocket's own linear-time engine
 * (regex-vm.ts), never on the backtracking JS engine. Back-references, look-around and other
 * syntax outside the common RE2/ECMAScript subset are rejected with an Error.
 */
import { parseRegex, type ParsedRegex } from './regex-parse.js';
import { compileRegex, vmExec, vmTest, type Program } from './regex-vm.js';

/**
 * A RegExp (no flags) whose test() and exec() — and so String#match, #search and #replace — use
 * the linear-time engine. split() and matchAll() are not supported.
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
    return vmTest(this.#program, String(input));
  }

  override exec(input: string): RegExpExecArray | null {
    const s = String(input);
    const caps = vmExec(this.#program, s);
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
export function safeRegex(pattern: string): RegExp {
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
