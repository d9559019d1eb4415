/**
 * A number a JavaScript double cannot hold exactly, kept as its exact digits: an int8 beyond ±2^53 (as a JS
 * number 9007199254740993 would become 9007199254740992) or a decimal with more significant digits than a
 * double keeps. It is bound as its digits; API responses write it as a bare JSON number
 * (db/exact-json.ts); a plain JSON.stringify writes its digits as a string, which is still exact. It is a
 * Number object, so code that knows nothing of it (the expression language) reads it as the nearest number.
 */
export class ExactNumber extends Number {
  constructor(readonly digits: string) {
    super(Number(digits));
  }
  toJSON(): string {
    return marker === undefined ? this.digits : marker + this.digits;
  }
  override toString(): string {
    return this.digits;
  }
}

/**
 * Set only while `stringifyMarked` runs. JSON.stringify is synchronous, so no other code can see it set; a
 * `toJSON` is much cheaper than a replacer, which JSON.stringify would call for every value of the payload.
 */
let marker: string | undefined;

/** JSON.stringify, with every ExactNumber written as the string `mark` + its digits. */
export function stringifyMarked(value: unknown, mark: string, space?: number): string {
  marker = mark;
  try {
    return JSON.stringify(value, null, space);
  } finally {
    marker = undefined;
  }
}

/** An int8 in canonical decimal digits as a number when that is exact, else an ExactNumber. */
export function int8Value(digits: string): number | ExactNumber {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : new ExactNumber(digits);
}

/**
 * A NUMERIC as PostgreSQL writes it (plain digits, no exponent) as a number when the double prints back as the
 * same value, else an ExactNumber: 99999999999999.99 would come back as 99999999999999.98. Up to 15 characters
 * hold at most 15 digits, which a double always keeps, so short values (nearly all) skip the comparison.
 */
export function numericValue(text: string): number | ExactNumber {
  const n = Number(text);
  if (text.length <= 15) return n;
  const dot = text.indexOf('.');
  const value = dot === -1 ? text : text.replace(/\.?0+$/, '');
  return String(n) === value ? n : new ExactNumber(text);
}

/** An exact decimal number, m × 10^e. */
export interface Decimal {
  m: bigint;
  e: number;
}

const DECIMAL_PARTS = /^([+-]?)([0-9]*)(?:[.]([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/;

/** The exact value of a decimal literal (`12`, `-0.5`, `.5`, `1e-3`); undefined when it is none. */
export function decimalOf(text: string): Decimal | undefined {
  const parts = DECIMAL_PARTS.exec(text);
  if (!parts || (parts[2] === '' && !parts[3])) return undefined;
  const [, sign, int = '', frac = '', exp = '0'] = parts;
  return { m: BigInt(`${sign === '-' ? '-' : ''}${int}${frac}` || '0'), e: Number(exp) - frac.length };
}

export function compareDecimals(a: Decimal, b: Decimal): number {
  const e = Math.min(a.e, b.e);
  const x = a.m * 10n ** BigInt(a.e - e);
  const y = b.m * 10n ** BigInt(b.e - e);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Orders two numbers exactly, either of them an ExactNumber (a rule threshold of 9007199254740993 against an
 * int8 of 9007199254740992): negative, zero or positive. Rounding to the nearest double keeps order, so
 * differing doubles already decide; only equal ones (then within an ulp of each other) need the digits.
 */
export function compareExact(a: number | ExactNumber, b: number | ExactNumber): number {
  const x = Number(a);
  const y = Number(b);
  if (x !== y || !Number.isFinite(x)) return x < y ? -1 : x > y ? 1 : 0;
  if (!(a instanceof ExactNumber) && !(b instanceof ExactNumber)) return 0;
  // Both finite here, so both texts are decimal literals.
  return compareDecimals(decimalOf(String(a))!, decimalOf(String(b))!);
}

/** The value with every ExactNumber inside it read as the nearest plain number (for code that expects numbers). */
export function plainNumbers(value: unknown): unknown {
  if (value instanceof ExactNumber) return Number(value);
  if (Array.isArray(value)) return value.map(plainNumbers);
  // fromEntries defines own keys: a `__proto__` key stays a key (for validation to refuse), not a prototype.
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainNumbers(v)]));
  return value;
}
