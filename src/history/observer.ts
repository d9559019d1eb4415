import type { WriteObserver } from '../engine/context.js';
import { entryOf, insertEntries, type NewEntry } from './entries.js';
import { historyCaptureOf } from './inline.js';

/**
 * Record history (spec: history.md): every written row of an entity with
 * `history: true` gets an entry in the write's own transaction — before COMMIT
 * on the general path, as a CTE of the statement on the one-statement fast
 * paths — so history never disagrees with the data.
 */
export const historyObserver: WriteObserver = {
  name: 'history',
  // Never a reason to leave the fast path: the capture rides along in its statement.
  involves: async () => false,
  inline: async (_app, entity) => (entity.def.history ? historyCaptureOf(entity) : undefined),
  async beforeCommit(sc, writes) {
    const entries: NewEntry[] = [];
    for (const w of writes) {
      if (!w.entity.def.history) continue;
      const entry = entryOf(sc, w);
      if (entry) entries.push(entry);
    }
    await insertEntries(sc.tx, entries, sc.now);
  },
};
