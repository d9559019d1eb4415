/**
 * Recursive-descent parser. Precedence, lowest first:
 * `?:` `??`; `||` `or`; `&&` `and`; `==` `!=` `===` `!==`;
 * `<` `<=` `>` `>=` `in` `not in` `contains` `startsWith` `endsWith` `matches`; `+ -`; `* / %`;
 * unary `! not -`; member access and calls.
 */
import type { BinaryOp, Node, ObjectEntry, Param } from './ast.js';
import { ExprCompileError } from './errors.js';
import { tokenize, type Token } from './lexer.js';
import { MAX_NESTING_DEPTH, MAX_SOURCE_LENGTH } from './limits.js';

const EQUALITY: Readonly<Record<string, BinaryOp>> = { '==': '==', '===': '==', '!=': '!=', '!==': '!=' };
const RELATIONAL_OPS: Readonly<Record<string, BinaryOp>> = { '<': '<', '<=': '<=', '>': '>', '>=': '>=' };
const RELATIONAL_WORDS: Readonly<Record<string, BinaryOp>> = {
  in: 'in',
  contains: 'contains',
  startsWith: 'startsWith',
  endsWith: 'endsWith',
  matches: 'matches',
};
const ADDITIVE: Readonly<Record<string, BinaryOp>> = { '+': '+', '-': '-' };
const MULTIPLICATIVE: Readonly<Record<string, BinaryOp>> = { '*': '*', '/': '/', '%': '%' };

/** Words that cannot start an operand. */
const OPERATOR_WORDS: ReadonlySet<string> = new Set(['and', 'or', 'in', 'contains', 'startsWith', 'endsWith', 'matches']);

class Parser {
  private readonly tokens: Token[];
  private i = 0;
  private depth = 0;

  constructor(source: string) {
    this.tokens = tokenize(source);
  }

  parseAll(): Node {
    if (this.peek().kind === 'eof') throw new ExprCompileError('empty expression', 0);
    const node = this.parseConditional();
    const t = this.peek();
    if (t.kind !== 'eof') throw this.unexpected(t);
    return node;
  }

  // ---- token helpers ----

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)];
  }

  private next(): Token {
    const t = this.tokens[this.i];
    if (this.i < this.tokens.length - 1) this.i++;
    return t;
  }

  private isOp(value: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'op' && t.value === value;
  }

  private isWord(value: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'ident' && t.value === value;
  }

  private expectOp(value: string): Token {
    const t = this.peek();
    if (t.kind !== 'op' || t.value !== value) {
      if (t.kind === 'eof') throw new ExprCompileError(`expected '${value}' but the expression ended`, t.pos);
      throw new ExprCompileError(`expected '${value}' but found ${describe(t)}`, t.pos);
    }
    return this.next();
  }

  private unexpected(t: Token): ExprCompileError {
    if (t.kind === 'eof') return new ExprCompileError('unexpected end of expression', t.pos);
    return new ExprCompileError(`unexpected ${describe(t)}`, t.pos);
  }

  /** Runs `f` one nesting level deeper. */
  private nested<T>(pos: number, f: () => T): T {
    if (++this.depth > MAX_NESTING_DEPTH) {
      throw new ExprCompileError(`expression nested too deeply (max ${MAX_NESTING_DEPTH})`, pos);
    }
    try {
      return f();
    } finally {
      this.depth--;
    }
  }

  // ---- grammar ----

  /** conditional := coalesce ('??' coalesce)* ('?' conditional ':' conditional)? */
  private parseConditional(): Node {
    let left = this.parseOr();
    while (this.isOp('??')) {
      const op = this.next();
      const right = this.parseOr();
      left = { type: 'logical', op: '??', left, right, pos: op.pos };
    }
    if (this.isOp('?')) {
      const q = this.next();
      const then = this.nested(q.pos, () => this.parseConditional());
      this.expectOp(':');
      const otherwise = this.nested(q.pos, () => this.parseConditional());
      return { type: 'conditional', test: left, then, otherwise, pos: q.pos };
    }
    return left;
  }

  private parseOr(): Node {
    let left = this.parseAnd();
    while (this.isOp('||') || this.isWord('or')) {
      const op = this.next();
      left = { type: 'logical', op: '||', left, right: this.parseAnd(), pos: op.pos };
    }
    return left;
  }

  private parseAnd(): Node {
    let left = this.parseEquality();
    while (this.isOp('&&') || this.isWord('and')) {
      const op = this.next();
      left = { type: 'logical', op: '&&', left, right: this.parseEquality(), pos: op.pos };
    }
    return left;
  }

  private parseEquality(): Node {
    let left = this.parseRelational();
    for (;;) {
      const t = this.peek();
      const op = t.kind === 'op' ? EQUALITY[t.value] : undefined;
      if (op === undefined) return left;
      this.next();
      left = { type: 'binary', op, left, right: this.parseRelational(), pos: t.pos };
    }
  }

  private parseRelational(): Node {
    let left = this.parseAdditive();
    for (;;) {
      const t = this.peek();
      let op: BinaryOp | undefined;
      if (t.kind === 'op') op = RELATIONAL_OPS[t.value];
      else if (t.kind === 'ident') {
        if (t.value === 'not' && this.isWord('in', 1)) {
          this.next();
          op = 'not in';
        } else {
          op = RELATIONAL_WORDS[t.value];
        }
      }
      if (op === undefined) return left;
      this.next();
      left = { type: 'binary', op, left, right: this.parseAdditive(), pos: t.pos };
    }
  }

  private parseAdditive(): Node {
    let left = this.parseMultiplicative();
    for (;;) {
      const t = this.peek();
      const op = t.kind === 'op' ? ADDITIVE[t.value] : undefined;
      if (op === undefined) return left;
      this.next();
      left = { type: 'binary', op, left, right: this.parseMultiplicative(), pos: t.pos };
    }
  }

  private parseMultiplicative(): Node {
    let left = this.parseUnary();
    for (;;) {
      const t = this.peek();
      const op = t.kind === 'op' ? MULTIPLICATIVE[t.value] : undefined;
      if (op === undefined) return left;
      this.next();
      left = { type: 'binary', op, left, right: this.parseUnary(), pos: t.pos };
    }
  }

  private parseUnary(): Node {
    const t = this.peek();
    if ((t.kind === 'op' && (t.value === '!' || t.value === '-')) || (t.kind === 'ident' && t.value === 'not')) {
      this.next();
      const arg = this.nested(t.pos, () => this.parseUnary());
      const op = t.value === '-' ? '-' : '!';
      // Fold negative number literals so that `a[-1]` is a literal index.
      if (op === '-' && arg.type === 'literal' && typeof arg.value === 'number') {
        return { type: 'literal', value: -arg.value, pos: t.pos };
      }
      return { type: 'unary', op, arg, pos: t.pos };
    }
    if (t.kind === 'op' && t.value === '+') {
      throw new ExprCompileError("unary '+' is not supported (use float(x))", t.pos);
    }
    return this.parsePostfix();
  }

  private parsePostfix(): Node {
    let node = this.parsePrimary();
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'op') return node;
      if (t.value === '.' || t.value === '?.') {
        this.next();
        if (t.value === '?.' && this.isOp('[')) {
          node = this.parseIndex(node);
          continue;
        }
        if (t.value === '?.' && this.isOp('(')) {
          throw new ExprCompileError('only whitelisted functions and methods can be called', this.peek().pos);
        }
        const name = this.next();
        if (name.kind !== 'ident') {
          throw new ExprCompileError(`expected a member name after '${t.value}'`, name.pos);
        }
        if (this.isOp('(')) {
          const args = this.parseArgs();
          node = { type: 'method', object: node, name: name.value, args, pos: name.pos };
        } else {
          node = { type: 'member', object: node, name: name.value, namePos: name.pos, pos: t.pos };
        }
      } else if (t.value === '[') {
        node = this.parseIndex(node);
      } else if (t.value === '(') {
        throw new ExprCompileError('only whitelisted functions and methods can be called', t.pos);
      } else {
        return node;
      }
    }
  }

  private parseIndex(object: Node): Node {
    const open = this.expectOp('[');
    const index = this.nested(open.pos, () => this.parseConditional());
    this.expectOp(']');
    return { type: 'index', object, index, pos: open.pos };
  }

  private parseArgs(): Node[] {
    const open = this.expectOp('(');
    return this.nested(open.pos, () => {
      const args: Node[] = [];
      if (this.isOp(')')) {
        this.next();
        return args;
      }
      for (;;) {
        args.push(this.parseConditional());
        if (this.isOp(',')) {
          this.next();
          if (this.isOp(')')) break; // trailing comma
          continue;
        }
        break;
      }
      this.expectOp(')');
      return args;
    });
  }

  /** At '(' — is this `(a, b) => ...` / `() => ...`? */
  private looksLikeArrowParams(): boolean {
    let k = 1;
    if (this.isOp(')', k)) return this.isOp('=>', k + 1);
    for (;;) {
      if (this.peek(k).kind !== 'ident') return false;
      k++;
      if (this.isOp(',', k)) {
        k++;
        continue;
      }
      return this.isOp(')', k) && this.isOp('=>', k + 1);
    }
  }

  private parseArrow(params: Param[], pos: number): Node {
    this.expectOp('=>');
    const body = this.nested(pos, () => this.parseConditional());
    return { type: 'arrow', params, body, pos };
  }

  private parsePrimary(): Node {
    const t = this.peek();
    switch (t.kind) {
      case 'num':
        this.next();
        return { type: 'literal', value: t.num, pos: t.pos };
      case 'str':
        this.next();
        return { type: 'literal', value: t.value, pos: t.pos };
      case 'ident':
        return this.parseIdentifier();
      case 'op':
        break;
      case 'eof':
        throw this.unexpected(t);
    }
    if (t.value === '(') {
      if (this.looksLikeArrowParams()) {
        this.next();
        const params: Param[] = [];
        while (!this.isOp(')')) {
          const p = this.next();
          params.push({ name: p.value, pos: p.pos });
          if (this.isOp(',')) this.next();
        }
        this.next();
        return this.parseArrow(params, t.pos);
      }
      this.next();
      const inner = this.nested(t.pos, () => this.parseConditional());
      this.expectOp(')');
      return inner;
    }
    if (t.value === '[') {
      this.next();
      return this.nested(t.pos, () => {
        const items: Node[] = [];
        while (!this.isOp(']')) {
          items.push(this.parseConditional());
          if (!this.isOp(',')) break;
          this.next();
        }
        this.expectOp(']');
        return { type: 'array', items, pos: t.pos };
      });
    }
    if (t.value === '{') {
      this.next();
      return this.nested(t.pos, () => {
        const entries: ObjectEntry[] = [];
        while (!this.isOp('}')) {
          const k = this.next();
          let key: string;
          if (k.kind === 'ident' || k.kind === 'str') key = k.value;
          else if (k.kind === 'num') key = String(k.num);
          else throw new ExprCompileError(`expected an object key but found ${describe(k)}`, k.pos);
          this.expectOp(':');
          entries.push({ key, keyPos: k.pos, value: this.parseConditional() });
          if (!this.isOp(',')) break;
          this.next();
        }
        this.expectOp('}');
        return { type: 'object', entries, pos: t.pos };
      });
    }
    throw this.unexpected(t);
  }

  private parseIdentifier(): Node {
    const t = this.next();
    const name = t.value;
    switch (name) {
      case 'true':
        return { type: 'literal', value: true, pos: t.pos };
      case 'false':
        return { type: 'literal', value: false, pos: t.pos };
      case 'null':
      case 'nil':
      case 'undefined':
        return { type: 'literal', value: null, pos: t.pos };
      case 'new': {
        const cls = this.peek();
        if (cls.kind !== 'ident' || cls.value !== 'Date') {
          throw new ExprCompileError("'new' is only allowed as new Date(...)", t.pos);
        }
        this.next();
        const args = this.isOp('(') ? this.parseArgs() : [];
        return { type: 'call', name: 'date', args, pos: t.pos };
      }
      case 'function':
        throw new ExprCompileError('function definitions are not allowed (use x => expr as a function argument)', t.pos);
    }
    if (this.isOp('=>')) return this.parseArrow([{ name, pos: t.pos }], t.pos);
    if (this.isOp('(')) {
      const args = this.parseArgs();
      return { type: 'call', name, args, pos: t.pos };
    }
    if (OPERATOR_WORDS.has(name)) throw new ExprCompileError(`unexpected '${name}'`, t.pos);
    return { type: 'variable', name, pos: t.pos };
  }
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'num':
      return `number ${t.value}`;
    case 'str':
      return 'string';
    case 'ident':
      return `'${t.value}'`;
    case 'op':
      return `'${t.value}'`;
    case 'eof':
      return 'end of expression';
  }
}

/** Parses a whole expression. Throws ExprCompileError. */
export function parse(source: string): Node {
  const bytes = source.length > MAX_SOURCE_LENGTH / 3 ? Buffer.byteLength(source, 'utf8') : source.length;
  if (bytes > MAX_SOURCE_LENGTH) {
    throw new ExprCompileError(`expression too long (${bytes} bytes, max ${MAX_SOURCE_LENGTH})`, 0);
  }
  return new Parser(source).parseAll();
}
