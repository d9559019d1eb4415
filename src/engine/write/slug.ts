import type { StageContext } from '../context.js';
import { getOrInsert, ownValue } from '../../collections.js';
import type { Queryable } from '../../db/database.js';
import { UniqueViolation } from '../../db/pg-errors.js';
import type { EntityMeta } from '../../metadata/registry.js';
import { uniqueIndexNames } from '../../metadata/migrate.js';
import { Params } from '../../db/params.js';
import { slugCandidatesSql } from '../../metadata/sql/statements.js';
import type { RowPlan } from './plan.js';
import type { RowStage } from './stages.js';

/** Slugify (spec: metadata.md §4): "Héllo, World!" → "hello-world". */
export function slugify(text: string): string {
  return text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
}

/**
 * First free slug of base, base-2 … base-100, else base-101; one query. `claimed` holds slugs this write has
 * already given other rows of the entity, which are not stored yet.
 */
export async function uniqueSlug(
  tx: Queryable,
  entity: EntityMeta,
  base: string,
  selfPk?: unknown,
  claimed: ReadonlySet<string> = new Set(),
): Promise<string> {
  const field = entity.fields.get(entity.def.slug!.field)!;
  const params = new Params();
  const rows = await tx.query<Record<string, string>>(slugCandidatesSql(entity, field, base, params, selfPk), params.list);
  const taken = new Set(rows.map((r) => r[field.name]));
  const free = (slug: string) => !taken.has(slug) && !claimed.has(slug);
  if (free(base)) return base;
  for (let n = 2; n <= 100; n++) if (free(`${base}-${n}`)) return `${base}-${n}`;
  return `${base}-101`;
}

/**
 * Slug generation (spec: metadata.md §4): an insert without a slug gets one
 * from its source field; an update that changes the source gets a new one
 * when `regenerate_on_update` is set and no slug was sent.
 */
export const slugStage: RowStage = {
  name: 'slugs',
  involves: (entity) => Boolean(entity.def.slug?.source),
  async run(sc: StageContext, rows: readonly RowPlan[]) {
    // Rows of one tree are stored together: two with the same title must not both take the same free slug.
    const claimed = new Map<EntityMeta, Set<string>>();
    for (const row of rows) {
      const mine = getOrInsert(claimed, row.entity, () => new Set<string>());
      await applySlug(sc, row, mine);
    }
  },
};

async function applySlug(sc: StageContext, row: RowPlan, claimed: Set<string>): Promise<void> {
  const slug = row.entity.def.slug!;
  const source = slug.source!;
  const sent = ownValue(row.values, slug.field);
  const value = ownValue(row.values, source);
  if (row.op === 'insert') {
    if ((sent === undefined || sent === null || sent === '') && value !== undefined && value !== null && value !== '') {
      const base = slugify(String(value));
      if (base) await generate(sc.tx, row, base, claimed);
    }
    return;
  }
  if (!slug.regenerate_on_update || sent !== undefined || !Object.hasOwn(row.values, source)) return;
  if (value === null || value === undefined || String(value) === String(row.current?.[source] ?? '')) return;
  const base = slugify(String(value));
  if (base) await generate(sc.tx, row, base, claimed);
}

async function generate(tx: Queryable, row: RowPlan, base: string, claimed: Set<string>): Promise<void> {
  const selfPk = row.op === 'insert' ? undefined : row.current![row.entity.pk.name];
  const value = await uniqueSlug(tx, row.entity, base, selfPk, claimed);
  row.values[row.entity.def.slug!.field] = row.record[row.entity.def.slug!.field] = value;
  row.slugBase = base;
  claimed.add(value);
}

/**
 * Writes of one statement that two concurrent requests generating the same slug may both try: the one that
 * loses the race breaks the slug's unique index. It then rolls back to a savepoint taken before the statement
 * (the transaction lives on), picks the next free slugs — the winner's row is visible now — and tries again,
 * up to this many times in all; a longer run of losses, or any other violation, stays the 409 it is. Each round
 * of a race has one winner, so a request among n racers may lose n − 1 times: 16 let one of 20 parallel creates
 * of one title answer 409 (CI rehearsal, audit11-concurrency).
 */
const SLUG_ATTEMPTS = 64;
const SAVEPOINT = 'rocket_slug';

/** Runs `write` (which must build its statement from the rows' values each time), retrying slug clashes. */
export async function withSlugRetry<T>(tx: Queryable, rows: readonly RowPlan[], write: () => Promise<T>): Promise<T> {
  const generated = rows.filter((r) => r.slugBase !== undefined);
  if (generated.length === 0) return write();
  // Outside a transaction a failed statement leaves nothing to undo.
  const savepoint = tx.inTransaction === true;
  if (savepoint) await tx.query(`SAVEPOINT ${SAVEPOINT}`);
  for (let attempt = 1; ; attempt++) {
    try {
      // The savepoint is not released: COMMIT ends it, and a round trip fewer is what every slugged write saves.
      return await write();
    } catch (err) {
      if (attempt >= SLUG_ATTEMPTS || !isSlugClash(err, generated)) throw err;
      if (savepoint) await tx.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
      const claimed = new Map<EntityMeta, Set<string>>();
      for (const row of generated) {
        const mine = getOrInsert(claimed, row.entity, () => new Set<string>());
        await generate(tx, row, row.slugBase!, mine);
      }
    }
  }
}

/** Whether the error is a violation of the unique index of the slug field of one of these rows' entities. */
function isSlugClash(err: unknown, rows: readonly RowPlan[]): boolean {
  if (!(err instanceof UniqueViolation) || err.index === undefined) return false;
  const index = err.index;
  return rows.some((r) => uniqueIndexNames(r.entity.def.table, r.entity.def.slug!.field).includes(index));
}
