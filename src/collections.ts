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
