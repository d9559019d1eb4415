/**
 * A number a JavaScript double cannot hold exactly, kept as its exact digits: an int8 beyond ±2^53 (as a JS
 * number 9007199254740993 would become 9007199254740992) or a decimal with more significant digits than a
 * double keeps. It is bound as its digits; API responses write it as a bare JSON number
 * (types/exact-json.ts); a plain JSON.stringify writes its digits as a string, which is still exact. It is a
 * Number object, so code that knows nothing of it (the expression language) reads it as the nearest number.
 */
export class ExactNumber extends Number {
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

/** An int8 in canonical decimal digits as a number when that is exact, else an ExactNumber. */
export function int8Value(digits: string): number | ExactNumber {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : new ExactNumber(digits);
}
