/**
 * A timestamp read from PostgreSQL that keeps the RFC 3339 text it is answered as (`toISOString()`'s form,
 * made once from PostgreSQL's own text). V8 formats a Date slowly: a list page of 25 rows with two timestamps
 * each spent most of its JSON.stringify time in Date.prototype.toJSON and toISOString. A row read from the
 * database is never changed in place, so the kept text stays the Date's value.
 */
export class StoredTimestamp extends Date {
  constructor(
    ms: number,
    private readonly iso: string,
  ) {
    super(ms);
  }

  override toISOString(): string {
    return this.iso;
  }

  override toJSON(): string {
    return this.iso;
  }
}
