/**
 * Linear-time matcher: the parsed regex is compiled to a small instruction program and run as a
 * Pike VM (all threads advance together, one pass over the input), so no pattern can backtrack
 * catastrophically. Time is O(input length × program size) — linear in the input, but a large
 * program makes each character expensive, so every search counts its work (instructions visited)
 * and gives up past a caller-chosen limit.
 */
import { type CharSet, isWordUnit } from './regex-charset.js';
import type { AssertKind, ParsedRegex, RNode } from './regex-parse.js';
import { RegexSyntaxError } from './regex-parse.js';

export const MAX_PROGRAM_SIZE = 20_000;

type Inst =
  | { op: 'char'; set: CharSet; next: number }
  | { op: 'split'; x: number; y: number }
  | { op: 'save'; slot: number; next: number }
  | { op: 'assert'; kind: AssertKind; next: number }
  | { op: 'match' };

const OP_CHAR = 0;
const OP_SPLIT = 1;
const OP_SAVE = 2;
const OP_ASSERT = 3;
const OP_MATCH = 4;

const ASSERT_KINDS: readonly AssertKind[] = ['bol', 'eol', 'wordb', 'nwordb'];

export interface Program {
  readonly insts: readonly Inst[];
  /** Capture slots: 2 × (groups + 1). */
  readonly slots: number;
  /**
   * The same instructions as parallel typed arrays for vmSearch, whose inner loop would otherwise
   * spend most of its time on property lookups and string compares of `op`.
   */
  readonly op: Uint8Array;
  /** char, save, assert: next; split: x (preferred). */
  readonly a: Int32Array;
  /** split: y; assert: index into ASSERT_KINDS. */
  readonly b: Int32Array;
  readonly sets: readonly (CharSet | null)[];
}

class Builder {
  readonly insts: Inst[] = [];

  add(inst: Inst): number {
    if (this.insts.length >= MAX_PROGRAM_SIZE) throw new RegexSyntaxError('pattern too complex');
    this.insts.push(inst);
    return this.insts.length - 1;
  }

  /** Emits `node` followed by the code at `next`; returns the entry point. */
  emit(node: RNode, next: number): number {
    switch (node.t) {
      case 'set':
        return this.add({ op: 'char', set: node.set, next });
      case 'assert':
        return this.add({ op: 'assert', kind: node.kind, next });
      case 'cat': {
        let pc = next;
        for (let k = node.items.length - 1; k >= 0; k--) pc = this.emit(node.items[k], pc);
        return pc;
      }
      case 'alt': {
        let pc = this.emit(node.alts[node.alts.length - 1], next);
        for (let k = node.alts.length - 2; k >= 0; k--) {
          const first = this.emit(node.alts[k], next);
          pc = this.add({ op: 'split', x: first, y: pc });
        }
        return pc;
      }
      case 'group': {
        const close = this.add({ op: 'save', slot: node.index * 2 + 1, next });
        const body = this.emit(node.body, close);
        return this.add({ op: 'save', slot: node.index * 2, next: body });
      }
      case 'rep':
        return this.emitRepeat(node.body, node.min, node.max, node.greedy, next);
    }
  }

  private split(preferred: number, other: number, greedy: boolean): Inst {
    return greedy ? { op: 'split', x: preferred, y: other } : { op: 'split', x: other, y: preferred };
  }

  private emitRepeat(body: RNode, min: number, max: number, greedy: boolean, next: number): number {
    let pc = next;
    if (max === Infinity) {
      // loop: split(body → loop, next)
      const loop = this.add({ op: 'match' }); // placeholder, patched below
      const entry = this.emit(body, loop);
      this.insts[loop] = this.split(entry, next, greedy);
      pc = loop;
    } else {
      // (body (body (...)?)?)? for the optional copies
      for (let k = 0; k < max - min; k++) {
        const entry = this.emit(body, pc);
        pc = this.add(this.split(entry, next, greedy));
      }
    }
    for (let k = 0; k < min; k++) pc = this.emit(body, pc);
    return pc;
  }
}

function flatten(insts: readonly Inst[]): Pick<Program, 'op' | 'a' | 'b' | 'sets'> {
  const n = insts.length;
  const op = new Uint8Array(n);
  const a = new Int32Array(n);
  const b = new Int32Array(n);
  const sets: (CharSet | null)[] = new Array<CharSet | null>(n).fill(null);
  insts.forEach((inst, pc) => {
    switch (inst.op) {
      case 'char':
        op[pc] = OP_CHAR;
        a[pc] = inst.next;
        sets[pc] = inst.set;
        break;
      case 'split':
        op[pc] = OP_SPLIT;
        a[pc] = inst.x;
        b[pc] = inst.y;
        break;
      case 'save':
        op[pc] = OP_SAVE;
        a[pc] = inst.next;
        break;
      case 'assert':
        op[pc] = OP_ASSERT;
        a[pc] = inst.next;
        b[pc] = ASSERT_KINDS.indexOf(inst.kind);
        break;
      case 'match':
        op[pc] = OP_MATCH;
        break;
    }
  });
  return { op, a, b, sets };
}

export function compileRegex(parsed: ParsedRegex): Program {
  const b = new Builder();
  const match = b.add({ op: 'match' });
  const close = b.add({ op: 'save', slot: 1, next: match });
  const body = b.emit(parsed.root, close);
  const start = b.add({ op: 'save', slot: 0, next: body });
  // Put the entry point at 0.
  const insts = b.insts;
  const remap = (pc: number): number => (pc === start ? 0 : pc === 0 ? start : pc);
  // biome-ignore lint/suspicious/useIterableCallbackReturn: the switch covers every op (tsc checks the return type)
  const moved = insts.map((inst): Inst => {
    switch (inst.op) {
      case 'char':
      case 'save':
      case 'assert':
        return { ...inst, next: remap(inst.next) };
      case 'split':
        return { op: 'split', x: remap(inst.x), y: remap(inst.y) };
      case 'match':
        return inst;
    }
  });
  [moved[0], moved[start]] = [moved[start], moved[0]];
  return { insts: moved, slots: (parsed.groups + 1) * 2, ...flatten(moved) };
}

function assertionHolds(kind: AssertKind, s: string, pos: number): boolean {
  switch (kind) {
    case 'bol':
      return pos === 0;
    case 'eol':
      return pos === s.length;
    case 'wordb':
    case 'nwordb': {
      const before = pos > 0 && isWordUnit(s.charCodeAt(pos - 1));
      const after = pos < s.length && isWordUnit(s.charCodeAt(pos));
      return (before !== after) === (kind === 'wordb');
    }
  }
}

/** Outcome of a bounded search. */
export interface SearchResult {
  readonly matched: boolean;
  /** Work done: instructions visited plus the size of the per-search tables. */
  readonly work: number;
  /** The search stopped because its work passed the limit; `matched` is then false and meaningless. */
  readonly exhausted: boolean;
}

/**
 * Whether the program matches anywhere in `s` (unanchored search), giving up once its work passes
 * `maxWork`. The limit is checked once per input position: one position costs at most about twice
 * the program size, so the overshoot is bounded.
 */
export function vmSearch(prog: Program, s: string, maxWork: number): SearchResult {
  const { op, a, b, sets } = prog;
  const n = op.length;
  const len = s.length;
  const mark = new Uint32Array(n);
  let clist = new Int32Array(n);
  let nlist = new Int32Array(n);
  // A step starts with its advancing char threads (at most n) and only a split adds to the stack.
  const stack = new Int32Array(n * 2 + 2);
  // Allocating and zeroing the tables is proportional to the program, even on an empty input.
  let work = n;
  let ncount = 0;
  // Only whether some thread matches matters here, not which, so the threads of a step are
  // followed in any order, all in one loop, without a call per thread.
  for (let pos = 0, gen = 1; ; pos++, gen++) {
    let sp = 0;
    if (pos > 0) {
      const ch = s.charCodeAt(pos - 1);
      for (let k = 0; k < ncount; k++) {
        const pc = clist[k];
        if ((sets[pc] as CharSet).has(ch)) stack[sp++] = a[pc];
      }
      work += ncount;
    }
    stack[sp++] = 0;
    ncount = 0;
    while (sp > 0) {
      const pc = stack[--sp];
      work++;
      if (mark[pc] === gen) continue;
      mark[pc] = gen;
      switch (op[pc]) {
        case OP_CHAR:
          nlist[ncount++] = pc;
          break;
        case OP_SPLIT:
          stack[sp++] = b[pc];
          stack[sp++] = a[pc];
          break;
        case OP_SAVE:
          stack[sp++] = a[pc];
          break;
        case OP_ASSERT:
          if (assertionHolds(ASSERT_KINDS[b[pc]], s, pos)) stack[sp++] = a[pc];
          break;
        case OP_MATCH:
          return { matched: true, work, exhausted: false };
      }
    }
    if (pos >= len) return { matched: false, work, exhausted: false };
    if (work > maxWork) return { matched: false, work, exhausted: true };
    const t = clist;
    clist = nlist;
    nlist = t;
  }
}

interface Thread {
  readonly pc: number;
  readonly caps: readonly number[];
}

/**
 * Leftmost-first match with capture positions (-1 = unset), or null — also null when the work
 * (counted as in vmSearch, plus the capture copies) passes `maxWork`.
 */
export function vmExec(prog: Program, s: string, maxWork: number): number[] | null {
  const insts = prog.insts;
  const n = insts.length;
  const slots = prog.slots;
  let work = n;
  const mark = new Uint32Array(n);
  let gen = 0;
  let clist: Thread[] = [];
  let nlist: Thread[] = [];
  let best: readonly number[] | null = null;

  // Depth-first in priority order, so that earlier threads in nlist have higher priority.
  const add = (pc0: number, caps0: readonly number[], pos: number): void => {
    const stack: Thread[] = [{ pc: pc0, caps: caps0 }];
    while (stack.length > 0) {
      const t = stack.pop() as Thread;
      work++;
      if (mark[t.pc] === gen) continue;
      mark[t.pc] = gen;
      const inst = insts[t.pc];
      switch (inst.op) {
        case 'char':
        case 'match':
          nlist.push(t);
          break;
        case 'split':
          stack.push({ pc: inst.y, caps: t.caps }, { pc: inst.x, caps: t.caps });
          break;
        case 'save': {
          work += slots;
          const caps = t.caps.slice();
          caps[inst.slot] = pos;
          stack.push({ pc: inst.next, caps });
          break;
        }
        case 'assert':
          if (assertionHolds(inst.kind, s, pos)) stack.push({ pc: inst.next, caps: t.caps });
          break;
      }
    }
  };

  const empty: number[] = new Array<number>(prog.slots).fill(-1);
  gen++;
  add(0, empty, 0);
  for (let pos = 0; ; pos++) {
    if (work > maxWork) return null;
    [clist, nlist] = [nlist, []];
    work += clist.length;
    gen++;
    const ch = pos < s.length ? s.charCodeAt(pos) : -1;
    for (const t of clist) {
      const inst = insts[t.pc];
      if (inst.op === 'match') {
        best = t.caps;
        break; // lower-priority threads are cut off
      }
      if (inst.op === 'char' && ch >= 0 && inst.set.has(ch)) add(inst.next, t.caps, pos + 1);
    }
    if (pos >= s.length) break;
    if (best === null) add(0, empty, pos + 1);
    if (nlist.length === 0 && best !== null) break;
  }
  return best === null ? null : [...best];
}
