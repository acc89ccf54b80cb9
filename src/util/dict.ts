/**
 * Objects keyed by names users choose (nodes, params, pipelines, pools, inputs, env...). A name
 * may be `constructor`, `toString` or `__proto__`: a plain `{}` answers the first two from its
 * prototype and turns `obj.__proto__ = v` into a change of prototype. These helpers never look
 * at, or write through, the prototype.
 */

/**
 * The prototype of every dict: an empty, frozen object with no prototype of its own. A dict
 * then answers no inherited member and `obj.__proto__ = v` makes an own property, as with no
 * prototype at all, but V8 keeps it a fast object (Object.create(null) makes a slow one of
 * ~190 bytes even when empty; a pipeline of 100,000 nodes holds several per node).
 */
const NO_MEMBERS: object = Object.freeze(Object.create(null));

/** A new object with no inherited members, holding the own entries of `sources` in order (later ones win). */
export function dict<T>(
  ...sources: Array<Readonly<Record<string, T>> | null | undefined>
): Record<string, T> {
  const out = Object.create(NO_MEMBERS) as Record<string, T>;
  for (let i = 0; i < sources.length; i++) {
    const source = sources[i];
    if (!source) continue;
    // Own enumerable keys, in the order Object.entries gives them (no entry pairs made).
    for (const k of Object.keys(source)) out[k] = source[k] as T;
  }
  return out;
}

/** `obj[key]` when `key` is an own property of `obj`, else undefined (never an inherited member). */
export function own<T>(obj: Readonly<Record<string, T>> | null | undefined, key: string): T | undefined {
  return obj != null && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** Sets `obj[key] = value` as an own property, even for `__proto__` on an object with a prototype. */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}
