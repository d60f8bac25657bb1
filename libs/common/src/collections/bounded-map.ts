/**
 * A Map for memos whose keys come from clients (model names, URLs): once it holds `max`
 * entries, adding another empties it first, so it never grows past `max`. Simpler than an
 * LRU and enough where every entry is cheap to compute again.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly max: number) {
    super();
  }

  override set(key: K, value: V): this {
    if (this.size >= this.max && !this.has(key)) this.clear();
    return super.set(key, value);
  }
}
