/**
 * Parser for the regular-expression subset Rocket accepts: the common RE2/ECMAScript syntax
 * (literals, escapes, classes, groups, alternation, greedy and lazy quantifiers, ^ $ \b \B),
 * without back-references, look-around or flags. Matching is done by regex-vm.ts.
 */
import { ANY, CharSet, DIGIT, DOT, NOTHING, SPACE, WORD } from './regex-charset.js';

export type RNode =
  | { readonly t: 'set'; readonly set: CharSet }
  | { readonly t: 'cat'; readonly items: readonly RNode[] }
  | { readonly t: 'alt'; readonly alts: readonly RNode[] }
  | { readonly t: 'rep'; readonly body: RNode; readonly min: number; readonly max: number; readonly greedy: boolean }
  | { readonly t: 'group'; readonly body: RNode; readonly index: number }
  | { readonly t: 'assert'; readonly kind: AssertKind };

export type AssertKind = 'bol' | 'eol' | 'wordb' | 'nwordb';

export interface ParsedRegex {
  readonly root: RNode;
  /** Number of capturing groups. */
  readonly groups: number;
  /** Named groups → group index. */
  readonly names: ReadonlyMap<string, number>;
}

export const MAX_PATTERN_LENGTH = 1024;
export const MAX_REPEAT = 1000;

export class RegexSyntaxError extends Error {}

const QUANTIFIER_BRACE = /^\{(\d+)(,(\d*))?\}/;

class RegexParser {
  private i = 0;
  private groups = 0;
  private readonly names = new Map<string, number>();
  private depth = 0;

  constructor(private readonly p: string) {}

  parse(): ParsedRegex {
    const root = this.alternation();
    if (this.i < this.p.length) {
      throw new RegexSyntaxError(this.p[this.i] === ')' ? 'unmatched )' : `unexpected ${this.p[this.i]}`);
    }
    return { root, groups: this.groups, names: this.names };
  }

  private fail(message: string): never {
    throw new RegexSyntaxError(message);
  }

  private alternation(): RNode {
    const alts = [this.sequence()];
    while (this.p[this.i] === '|') {
      this.i++;
      alts.push(this.sequence());
    }
    return alts.length === 1 ? alts[0] : { t: 'alt', alts };
  }

  private sequence(): RNode {
    const items: RNode[] = [];
    while (this.i < this.p.length && this.p[this.i] !== '|' && this.p[this.i] !== ')') {
      const atom = this.atom();
      items.push(this.quantified(atom));
    }
    return items.length === 1 ? items[0] : { t: 'cat', items };
  }

  private quantified(atom: RNode): RNode {
    let node = atom;
    let quantified = false;
    for (;;) {
      const c = this.p[this.i];
      let min: number;
      let max: number;
      if (c === '*') [min, max] = [0, Infinity];
      else if (c === '+') [min, max] = [1, Infinity];
      else if (c === '?') [min, max] = [0, 1];
      else if (c === '{' && QUANTIFIER_BRACE.test(this.p.slice(this.i, this.i + 24))) {
        const m = QUANTIFIER_BRACE.exec(this.p.slice(this.i, this.i + 24));
        if (m === null) return node;
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
        if (max < min) this.fail('numbers out of order in {} quantifier');
        if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT)) this.fail(`repeat count too large (max ${MAX_REPEAT})`);
        this.i += m[0].length - 1;
      } else {
        return node;
      }
      if (quantified || node.t === 'assert') this.fail('nothing to repeat');
      this.i++;
      let greedy = true;
      if (this.p[this.i] === '?') {
        greedy = false;
        this.i++;
      }
      node = { t: 'rep', body: node, min, max, greedy };
      quantified = true;
    }
  }

  private atom(): RNode {
    const c = this.p[this.i];
    switch (c) {
      case '^':
        this.i++;
        return { t: 'assert', kind: 'bol' };
      case '$':
        this.i++;
        return { t: 'assert', kind: 'eol' };
      case '.':
        this.i++;
        return { t: 'set', set: DOT };
      case '(':
        return this.group();
      case '[':
        return { t: 'set', set: this.charClass() };
      case '\\':
        return this.atomEscape();
      case '*':
      case '+':
      case '?':
        return this.fail('nothing to repeat');
      case '{':
        if (QUANTIFIER_BRACE.test(this.p.slice(this.i, this.i + 24))) this.fail('nothing to repeat');
        break;
    }
    this.i++;
    return { t: 'set', set: CharSet.char(c.charCodeAt(0)) };
  }

  private group(): RNode {
    this.i++; // (
    if (++this.depth > 64) this.fail('too many nested groups');
    let index = 0;
    if (this.p[this.i] === '?') {
      const rest = this.p.slice(this.i, this.i + 3);
      if (rest.startsWith('?:')) {
        this.i += 2;
      } else if (rest.startsWith('?=') || rest.startsWith('?!') || rest === '?<=' || rest === '?<!') {
        this.fail('look-around is not supported');
      } else if (rest.startsWith('?<')) {
        const m = /^\?<([A-Za-z_$][A-Za-z0-9_$]*)>/.exec(this.p.slice(this.i));
        if (m === null) this.fail('invalid group name');
        if (this.names.has(m[1])) this.fail(`duplicate group name ${m[1]}`);
        index = ++this.groups;
        this.names.set(m[1], index);
        this.i += m[0].length;
      } else {
        this.fail('invalid group');
      }
    } else {
      index = ++this.groups;
    }
    const body = this.alternation();
    if (this.p[this.i] !== ')') this.fail('unterminated group');
    this.i++;
    this.depth--;
    return index === 0 ? body : { t: 'group', body, index };
  }

  /** Escapes valid both inside and outside classes; returns a set, or undefined if not one of these. */
  private commonEscape(e: string): CharSet | undefined {
    switch (e) {
      case 'd':
        return DIGIT;
      case 'D':
        return DIGIT.negate();
      case 'w':
        return WORD;
      case 'W':
        return WORD.negate();
      case 's':
        return SPACE;
      case 'S':
        return SPACE.negate();
      case 't':
        return CharSet.char(9);
      case 'n':
        return CharSet.char(10);
      case 'v':
        return CharSet.char(11);
      case 'f':
        return CharSet.char(12);
      case 'r':
        return CharSet.char(13);
      case '0':
        if (/[0-9]/.test(this.p[this.i] ?? '')) this.fail('octal escapes are not supported');
        return CharSet.char(0);
      case 'x':
        return CharSet.char(this.hex(2));
      case 'u':
        return CharSet.char(this.hex(4));
    }
    if (/[1-9]/.test(e)) this.fail('back-references are not supported');
    if (e === 'k') this.fail('back-references are not supported');
    if (e === 'p' || e === 'P') this.fail('unicode property escapes are not supported');
    if (/[A-Za-z]/.test(e)) this.fail(`unsupported escape \\${e}`);
    return undefined;
  }

  private hex(n: number): number {
    const h = this.p.slice(this.i, this.i + n);
    if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) this.fail('invalid hex escape');
    this.i += n;
    return parseInt(h, 16);
  }

  private atomEscape(): RNode {
    this.i++; // backslash
    if (this.i >= this.p.length) this.fail('\\ at end of pattern');
    const e = this.p[this.i++];
    if (e === 'b') return { t: 'assert', kind: 'wordb' };
    if (e === 'B') return { t: 'assert', kind: 'nwordb' };
    const set = this.commonEscape(e);
    return { t: 'set', set: set ?? CharSet.char(e.charCodeAt(0)) };
  }

  private charClass(): CharSet {
    this.i++; // [
    let negated = false;
    if (this.p[this.i] === '^') {
      negated = true;
      this.i++;
    }
    let set = NOTHING;
    for (;;) {
      if (this.i >= this.p.length) this.fail('unterminated character class');
      if (this.p[this.i] === ']') {
        this.i++;
        break;
      }
      const lo = this.classAtom();
      if (this.p[this.i] === '-' && this.p[this.i + 1] !== ']' && this.i + 1 < this.p.length) {
        this.i++;
        const hi = this.classAtom();
        if (typeof lo !== 'number' || typeof hi !== 'number') {
          // [\d-z] — a class escape cannot bound a range; like JS, '-' is then a literal.
          set = set.union(toSet(lo)).union(CharSet.char(0x2d)).union(toSet(hi));
          continue;
        }
        if (lo > hi) this.fail('range out of order in character class');
        set = set.union(CharSet.of([[lo, hi]]));
        continue;
      }
      set = set.union(toSet(lo));
    }
    if (negated) return set === NOTHING ? ANY : set.negate();
    return set;
  }

  /** One class member: a code unit, or a set for \d \w \s and their negations. */
  private classAtom(): number | CharSet {
    const c = this.p[this.i];
    if (c !== '\\') {
      this.i++;
      return c.charCodeAt(0);
    }
    this.i++;
    if (this.i >= this.p.length) this.fail('\\ at end of pattern');
    const e = this.p[this.i++];
    if (e === 'b') return 8;
    if (e === '-') return 0x2d;
    if (e === 'B') this.fail('unsupported escape \\B in character class');
    const set = this.commonEscape(e);
    if (set === undefined) return e.charCodeAt(0);
    const pairs = set.pairs();
    return pairs.length === 1 && pairs[0][0] === pairs[0][1] ? pairs[0][0] : set;
  }
}

function toSet(x: number | CharSet): CharSet {
  return typeof x === 'number' ? CharSet.char(x) : x;
}

export function parseRegex(pattern: string): ParsedRegex {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new RegexSyntaxError(`pattern too long (max ${MAX_PATTERN_LENGTH} characters)`);
  }
  return new RegexParser(pattern).parse();
}
