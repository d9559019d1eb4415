import type { EntityMeta } from '../../metadata/registry.js';
import type { EngineApp, InlineCapture } from '../context.js';
import type { RowPlan } from './plan.js';
import { ROW_STAGES } from './row-stages.js';
import type { RowStage } from './stages.js';
import { getOrInsert } from '../../collections.js';

/**
 * Whether an entity's writes may skip the pipeline's stages and observers and
 * be one autocommit statement. Derived from the stages and observers
 * themselves, never from a list of special cases: an entity is plain when no
 * row stage (unless only for some rows) and no observer involves it.
 */
export interface FastPath {
  /** What observers add to the entity's one-statement writes (usually nothing). */
  readonly captures: readonly InlineCapture[];
  /** Stages that involve the entity for some rows only; a row one of them `needs` takes the general path. */
  readonly rowStages: readonly RowStage[];
}

/** The entity's fast path, or undefined when its writes always take the general path. */
export async function decideFastPath(app: EngineApp, e: EntityMeta, stages: readonly RowStage[] = ROW_STAGES): Promise<FastPath | undefined> {
  const involved = stages.filter((s) => s.involves(e));
  if (involved.some((s) => !s.needs)) return undefined;
  const observers = app.extensions.observers;
  for (const o of observers) if (!o.involves || (await o.involves(app, e))) return undefined;
  const captures: InlineCapture[] = [];
  for (const o of observers) {
    const c = await o.inline?.(app, e);
    if (c) captures.push(c);
  }
  return { captures, rowStages: involved };
}

// Decided once per metadata snapshot: the snapshot object holds everything the answer depends on, and the
// cache dies with it.
const decided = new WeakMap<object, Map<string, Promise<FastPath | undefined>>>();

/** `decideFastPath`, cached per snapshot (a failed decision is asked again next time). */
export function fastPathOf(app: EngineApp, e: EntityMeta): Promise<FastPath | undefined> {
  const known = getOrInsert(decided, app.registry, () => new Map());
  let answer = known.get(e.name);
  if (!answer) {
    answer = decideFastPath(app, e);
    known.set(e.name, answer);
    const cache = known;
    answer.catch(() => cache.delete(e.name));
  }
  return answer;
}

/** Whether this row (not its nested rows) may be written by a fast path of its entity. */
export function rowIsPlain(path: FastPath, row: RowPlan): boolean {
  return !path.rowStages.some((s) => s.needs!(row));
}
