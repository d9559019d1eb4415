// A NUL, or a lone UTF-16 surrogate (JSON allows "\ud800"; UTF-8 cannot hold it): text PostgreSQL cannot store as sent.
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is the character being looked for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** PostgreSQL text and jsonb cannot hold U+0000 anywhere in a value. */
export function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return UNSTORABLE.test(value);
  if (Array.isArray(value)) return value.some(hasNul);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).some(([k, v]) => UNSTORABLE.test(k) || hasNul(v));
  }
  return false;
}

/** The first key or string PostgreSQL cannot store in a JSON value: where it sits (`a.b[2]`; '' for the value itself) and the text. */
export function findUnstorable(value: unknown, path = ''): { path: string; text: string } | undefined {
  if (typeof value === 'string') return UNSTORABLE.test(value) ? { path, text: value } : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorable(value[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const at = path ? `${path}.${k}` : k;
      if (UNSTORABLE.test(k)) return { path: at, text: k };
      const found = findUnstorable(v, at);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** Where the first key or string PostgreSQL cannot store sits in a JSON value (`a.b[2]`; '' for the value itself), or undefined. */
export function unstorablePath(value: unknown, path = ''): string | undefined {
  return findUnstorable(value, path)?.path;
}

/** What is wrong with a string PostgreSQL cannot store, for a message `<key> must not contain <this>`. */
export function unstorableWhat(text: string): string {
  return text.includes('\u0000') ? 'NUL characters' : 'unpaired UTF-16 surrogates (text must be valid Unicode)';
}
