/** The value stored under `key`, made by `make` and stored first when the map has none. */
export function getOrInsert<K, V>(map: Map<K, V>, key: K, make: () => NoInfer<V>): V;
export function getOrInsert<K extends object, V>(map: WeakMap<K, V>, key: K, make: () => NoInfer<V>): V;
export function getOrInsert<K extends object, V>(map: Map<K, V> | WeakMap<K, V>, key: K, make: () => NoInfer<V>): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

/**
 * The value of an own property of `obj`, undefined when it has none: a key that is also an Object.prototype
 * member (`constructor`, `toString`, …) is a legal field name and must not read the inherited function.
 */
export function ownValue(obj: Readonly<Record<string, unknown>>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}
