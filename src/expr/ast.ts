/** Abstract syntax tree of an expression. Every node carries its 0-based source position. */

export type BinaryOp =
  | '=='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | 'in'
  | 'not in'
  | 'contains'
  | 'startsWith'
  | 'endsWith'
  | 'matches'
  | '+'
  | '-'
  | '*'
  | '/'
  | '%';

export type LogicalOp = '&&' | '||' | '??';

export type UnaryOp = '!' | '-';

export type LiteralValue = string | number | boolean | null;

export type Node =
  | { readonly type: 'literal'; readonly value: LiteralValue; readonly pos: number }
  | { readonly type: 'variable'; readonly name: string; readonly pos: number }
  | { readonly type: 'array'; readonly items: readonly Node[]; readonly pos: number }
  | { readonly type: 'object'; readonly entries: readonly ObjectEntry[]; readonly pos: number }
  /** `a.b` / `a?.b`; `namePos` is where the name starts. */
  | { readonly type: 'member'; readonly object: Node; readonly name: string; readonly namePos: number; readonly pos: number }
  /** `a[i]` / `a?.[i]` */
  | { readonly type: 'index'; readonly object: Node; readonly index: Node; readonly pos: number }
  /** A whitelisted function call `f(...)`; `new Date(x)` is `date(x)`. */
  | { readonly type: 'call'; readonly name: string; readonly args: readonly Node[]; readonly pos: number }
  /** A whitelisted method call `a.m(...)`. */
  | { readonly type: 'method'; readonly object: Node; readonly name: string; readonly args: readonly Node[]; readonly pos: number }
  | { readonly type: 'unary'; readonly op: UnaryOp; readonly arg: Node; readonly pos: number }
  | { readonly type: 'binary'; readonly op: BinaryOp; readonly left: Node; readonly right: Node; readonly pos: number }
  | { readonly type: 'logical'; readonly op: LogicalOp; readonly left: Node; readonly right: Node; readonly pos: number }
  | { readonly type: 'conditional'; readonly test: Node; readonly then: Node; readonly otherwise: Node; readonly pos: number }
  | { readonly type: 'arrow'; readonly params: readonly Param[]; readonly body: Node; readonly pos: number };

export interface ObjectEntry {
  readonly key: string;
  readonly keyPos: number;
  readonly value: Node;
}

export interface Param {
  readonly name: string;
  readonly pos: number;
}
