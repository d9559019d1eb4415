import type { Queryable } from '../../db/database.js';
import type { EntityMeta } from '../../metadata/registry.js';
import { Params } from '../../db/params.js';
import { slugCandidatesSql } from '../../metadata/sql/statements.js';
import type { RowPlan } from './plan.js';
import type { RowStage, StageContext } from './stages.js';

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

/** First free slug of base, base-2 … base-100, else base-101; one query. */
export async function uniqueSlug(tx: Queryable, entity: EntityMeta, base: string, selfPk?: unknown): Promise<string> {
  const field = entity.fields.get(entity.def.slug!.field)!;
  const params = new Params();
  const rows = await tx.query<Record<string, string>>(slugCandidatesSql(entity, field, base, params, selfPk), params.list);
  const taken = new Set(rows.map((r) => r[field.name]));
  if (!taken.has(base)) return base;
  for (let n = 2; n <= 100; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
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
    for (const row of rows) await applySlug(sc, row);
  },
};

async function applySlug(sc: StageContext, row: RowPlan): Promise<void> {
  const slug = row.entity.def.slug!;
  const source = slug.source!;
  const sent = row.values[slug.field];
  const value = row.values[source];
  if (row.op === 'insert') {
    if ((sent === undefined || sent === null || sent === '') && value !== undefined && value !== null && value !== '') {
      const base = slugify(String(value));
      if (base) row.values[slug.field] = row.record[slug.field] = await uniqueSlug(sc.tx, row.entity, base);
    }
    return;
  }
  if (!slug.regenerate_on_update || sent !== undefined || !(source in row.values)) return;
  if (value === null || value === undefined || String(value) === String(row.current?.[source] ?? '')) return;
  const base = slugify(String(value));
  if (base) {
    row.values[slug.field] = row.record[slug.field] = await uniqueSlug(sc.tx, row.entity, base, row.current![row.entity.pk.name]);
  }
}
