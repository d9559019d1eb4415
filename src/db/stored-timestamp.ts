/**
 * A timestamp read from PostgreSQL that keeps the RFC 3339 text it is answered as (`toISOString()`'s form,
 * made once from PostgreSQL's own text). V8 formats a Date slowly: a list page of 25 rows with two timestamps
 * each spent most of its JSON.stringify time in Date.prototype.toJSON and toISOString. A row read from the
 * database is never changed in place, so the kept text stays the Date's value.
 *
 * It also keeps PostgreSQL's text itself, microseconds included, which a Date cannot hold: a list cursor
 * takes a timestamp sort key from it, where it would otherwise select each row's key once more as text.
 */
export class StoredTimestamp extends Date {
  constructor(
    ms: number,
    /** Undefined where the Date's own formatting is right (the rare forms parsed by Date itself). */
    private readonly iso: string | undefined,
    readonly pgText: string,
  ) {
    super(ms);
  }

  override toISOString(): string {
    return this.iso ?? super.toISOString();
  }

  override toJSON(): string {
    return this.iso ?? super.toJSON();
  }
}
