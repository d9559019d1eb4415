import type { ErrorDetail } from '../../errors.js';
import type { EntityMeta, RelationMeta } from '../../metadata/registry.js';
import type { WriteMode } from '../../metadata/types.js';
import type { Record_ } from '../context.js';

/** What happens to one row of a write tree. */
export type RowOp = 'insert' | 'update' | 'delete' | 'ignore';

/** One row of a (possibly nested) write, filled in stage by stage before any write SQL runs. */
export interface RowPlan {
  entity: EntityMeta;
  /** Detail path prefix: '' for the top row, 'items[2]', 'items[2].tax_lines[0]', … */
  path: string;
  op: RowOp;
  /** Sent values of writable declared fields, coerced (JSON form). */
  values: Record_;
  /** Primary key value sent in a nested row, if any. */
  sentPk?: unknown;
  /** The stored row (update / delete). */
  current?: Record_;
  /** The record as it will be written (current overlaid with values; payload + defaults on insert). */
  record: Record_;
  nested: NestedPlan[];
  /** File fields whose value must be resolved against `_files`. */
  files: Array<{ field: string; id: string }>;
  /** The base of a slug the slug stage generated: a concurrent write taking it first makes this row pick the next. */
  slugBase?: string;
  /**
   * Top row only: field problems found while parsing a tree whose other checks wait for the current children
   * (nested rows naming a PK, many_to_many links); they are answered together with those in one 422.
   */
  pending?: ErrorDetail[];
}

export interface LinkPlan {
  id: unknown;
  remove: boolean;
  path: string;
}

/** The rows sent under one relation key of a parent row. */
export interface NestedPlan {
  key: string;
  relation: RelationMeta;
  mode: WriteMode;
  /** one_to_one / one_to_many children. */
  rows: RowPlan[];
  /** many_to_many links. */
  links: LinkPlan[];
  /** Current children removed by `replace` (loaded in the transaction). */
  removed: Record_[];
}

/** Joins a row path and a field name: '' + 'qty' → 'qty', 'items[0]' + 'qty' → 'items[0].qty'. */
export function at(path: string, field: string): string {
  return path === '' ? field : `${path}.${field}`;
}

export function prefixDetails(path: string, details: readonly ErrorDetail[]): ErrorDetail[] {
  if (path === '') return [...details];
  return details.map((d) => ({ ...d, field: at(path, d.field ?? d.rule ?? '') }));
}

/** Depth-first walk over every row of the tree (parents before children). */
export function* walk(row: RowPlan): Generator<RowPlan> {
  yield row;
  for (const n of row.nested) for (const child of n.rows) yield* walk(child);
}
