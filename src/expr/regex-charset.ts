/** Sets of UTF-16 code units, as sorted disjoint inclusive ranges, with an ASCII fast path. */

const MAX_UNIT = 0xffff;

export class CharSet {
  /** Flat [lo0, hi0, lo1, hi1, ...], sorted, disjoint, non-adjacent. */
  private readonly ranges: readonly number[];
  private readonly ascii: Uint8Array;

  private constructor(ranges: readonly number[]) {
    this.ranges = ranges;
    this.ascii = new Uint8Array(128);
    for (let i = 0; i < ranges.length; i += 2) {
      for (let c = ranges[i]; c <= Math.min(ranges[i + 1], 127); c++) this.ascii[c] = 1;
    }
  }

  static of(pairs: readonly (readonly [number, number])[]): CharSet {
    const sorted = [...pairs].sort((a, b) => a[0] - b[0]);
    const out: number[] = [];
    for (const [lo, hi] of sorted) {
      const n = out.length;
      if (n > 0 && lo <= out[n - 1] + 1) out[n - 1] = Math.max(out[n - 1], hi);
      else out.push(lo, hi);
    }
    return new CharSet(out);
  }

  static char(c: number): CharSet {
    return CharSet.of([[c, c]]);
  }

  pairs(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < this.ranges.length; i += 2) out.push([this.ranges[i], this.ranges[i + 1]]);
    return out;
  }

  union(other: CharSet): CharSet {
    return CharSet.of([...this.pairs(), ...other.pairs()]);
  }

  negate(): CharSet {
    const out: [number, number][] = [];
    let next = 0;
    for (const [lo, hi] of this.pairs()) {
      if (lo > next) out.push([next, lo - 1]);
      next = hi + 1;
    }
    if (next <= MAX_UNIT) out.push([next, MAX_UNIT]);
    return CharSet.of(out);
  }

  has(c: number): boolean {
    if (c < 128) return this.ascii[c] === 1;
    const r = this.ranges;
    let lo = 0;
    let hi = r.length / 2 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (c < r[mid * 2]) hi = mid - 1;
      else if (c > r[mid * 2 + 1]) lo = mid + 1;
      else return true;
    }
    return false;
  }
}

export const DIGIT = CharSet.of([[0x30, 0x39]]);
export const WORD = CharSet.of([
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
]);
/** ECMAScript WhiteSpace and LineTerminator. */
export const SPACE = CharSet.of([
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
]);
/** `.` without the s flag: anything but a line terminator. */
export const DOT = CharSet.of([
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
]).negate();
export const ANY = CharSet.of([[0, MAX_UNIT]]);
export const NOTHING = CharSet.of([]);

export function isWordUnit(c: number): boolean {
  return c < 128 && WORD.has(c);
}
