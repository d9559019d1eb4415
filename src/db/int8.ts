/**
 * An int8 value beyond ±2^53, kept as its exact digits: as a JS number,
 * 9007199254740993 would become 9007199254740992. API responses write it as a
 * bare JSON number (types/exact-json.ts); a plain JSON.stringify writes its
 * digits as a string, which is still exact. It is a Number object, so code
 * that knows nothing of int8 (the expression language) reads it as the
 * nearest number.
 */
export class BigInteger extends Number {
  constructor(readonly digits: string) {
    super(Number(digits));
  }
  toJSON(): string {
    return this.digits;
  }
  override toString(): string {
    return this.digits;
  }
}

/** An int8 in canonical decimal digits as a number when that is exact, else a BigInteger. */
export function int8Value(digits: string): number | BigInteger {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : new BigInteger(digits);
}
