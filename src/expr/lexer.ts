/** Lexer: source text → tokens with 0-based positions. */
import { ExprCompileError } from './errors.js';

export type TokenKind = 'num' | 'str' | 'ident' | 'op' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** Identifier name, operator text or decoded string value. */
  readonly value: string;
  /** Numeric value for `num` tokens. */
  readonly num: number;
  readonly pos: number;
}

/** Operators, longest first so that the first prefix match wins. */
const OPERATORS = [
  '===',
  '!==',
  '...',
  '?.',
  '??',
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '=>',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  '.',
  '?',
  ':',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '!',
] as const;

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

function isIdentStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c === '$';
}

function isIdentPart(c: string): boolean {
  return isIdentStart(c) || isDigit(c);
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  f: '\f',
  v: '\v',
  '0': '\0',
};

function readHex(src: string, at: number, count: number, pos: number): number {
  const hex = src.slice(at, at + count);
  if (hex.length !== count || !/^[0-9a-fA-F]+$/.test(hex)) {
    throw new ExprCompileError('invalid escape sequence in string', pos);
  }
  return parseInt(hex, 16);
}

/** Reads a quoted string starting at `start` (the quote). Returns the decoded value and the end index. */
function readString(src: string, start: number): { value: string; end: number } {
  const quote = src[start];
  let out = '';
  let i = start + 1;
  for (;;) {
    if (i >= src.length) throw new ExprCompileError('unterminated string', start);
    const c = src[i];
    if (c === quote) return { value: out, end: i + 1 };
    if (c !== '\\') {
      out += c;
      i++;
      continue;
    }
    const e = src[i + 1];
    if (e === undefined) throw new ExprCompileError('unterminated string', start);
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined && !(e === '0' && isDigit(src[i + 2] ?? ''))) {
      out += simple;
      i += 2;
    } else if (e === 'x') {
      out += String.fromCharCode(readHex(src, i + 2, 2, i));
      i += 4;
    } else if (e === 'u' && src[i + 2] === '{') {
      const close = src.indexOf('}', i + 3);
      if (close < 0 || close - (i + 3) > 6) throw new ExprCompileError('invalid escape sequence in string', i);
      const cp = readHex(src, i + 3, close - (i + 3), i);
      if (cp > 0x10ffff) throw new ExprCompileError('invalid escape sequence in string', i);
      out += String.fromCodePoint(cp);
      i = close + 1;
    } else if (e === 'u') {
      out += String.fromCharCode(readHex(src, i + 2, 4, i));
      i += 6;
    } else if (/[A-Za-z0-9]/.test(e)) {
      throw new ExprCompileError(`invalid escape sequence \\${e} in string`, i);
    } else {
      // \\ \' \" \/ and any other punctuation or line break stand for themselves.
      out += e;
      i += 2;
    }
  }
}

function readNumber(src: string, start: number): { value: number; end: number } {
  let i = start;
  while (isDigit(src[i] ?? '')) i++;
  if (src[i] === '.' && isDigit(src[i + 1] ?? '')) {
    i++;
    while (isDigit(src[i] ?? '')) i++;
  }
  if (src[i] === 'e' || src[i] === 'E') {
    let j = i + 1;
    if (src[j] === '+' || src[j] === '-') j++;
    if (isDigit(src[j] ?? '')) {
      while (isDigit(src[j] ?? '')) j++;
      i = j;
    } else {
      throw new ExprCompileError('invalid number', start);
    }
  }
  if (isIdentPart(src[i] ?? '')) throw new ExprCompileError('invalid number', start);
  const value = Number(src.slice(start, i));
  if (!Number.isFinite(value)) throw new ExprCompileError('number out of range', start);
  return { value, end: i };
}

/** Splits the source into tokens; the last token is always `eof`. */
export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (isDigit(c)) {
      const { value, end } = readNumber(src, i);
      tokens.push({ kind: 'num', value: src.slice(i, end), num: value, pos: i });
      i = end;
      continue;
    }
    if (c === "'" || c === '"') {
      const { value, end } = readString(src, i);
      tokens.push({ kind: 'str', value, num: 0, pos: i });
      i = end;
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < src.length && isIdentPart(src[j])) j++;
      tokens.push({ kind: 'ident', value: src.slice(i, j), num: 0, pos: i });
      i = j;
      continue;
    }
    if (c === '`') throw new ExprCompileError('template literals are not supported', i);
    if (c === ';') throw new ExprCompileError("statements are not allowed (unexpected ';')", i);
    if (c === '=' && src[i + 1] !== '=' && src[i + 1] !== '>') {
      throw new ExprCompileError("assignment is not allowed (use '==' to compare)", i);
    }
    let op: string | undefined;
    for (const candidate of OPERATORS) {
      if (src.startsWith(candidate, i)) {
        op = candidate;
        break;
      }
    }
    // `a?.5:1` is a conditional, not optional chaining.
    if (op === '?.' && isDigit(src[i + 2] ?? '')) op = '?';
    if (op === undefined || op === '...') {
      throw new ExprCompileError(`unexpected character '${op ?? c}'`, i);
    }
    tokens.push({ kind: 'op', value: op, num: 0, pos: i });
    i += op.length;
  }
  tokens.push({ kind: 'eof', value: '', num: 0, pos: src.length });
  return tokens;
}
