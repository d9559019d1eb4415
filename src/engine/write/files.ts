import type { StageContext } from '../context.js';
import { notFound } from '../../errors.js';
import type { RowPlan } from './plan.js';
import type { RowStage } from './stages.js';

/** `file` fields sent as a file id get the stored file's metadata (objects are kept as given); one query per tree. */
export const fileStage: RowStage = {
  name: 'files',
  involves: (entity) => entity.fieldList.some((f) => f.type === 'file'),
  needs: (row) => row.files.length > 0,
  async run(sc: StageContext, rows: readonly RowPlan[]) {
    const wanted = rows.flatMap((row) => row.files.map((f) => ({ row, ...f })));
    const found = await sc.tx.query<{ id: string; filename: string; size: number; mime_type: string }>(
      'SELECT id, filename, size, mime_type FROM _files WHERE id = ANY($1::uuid[])',
      [[...new Set(wanted.map((w) => w.id))]],
    );
    const byId = new Map(found.map((r) => [r.id, r]));
    for (const w of wanted) {
      const file = byId.get(w.id);
      if (!file) throw notFound(`File ${w.id} not found`);
      w.row.values[w.field] = w.row.record[w.field] = { id: file.id, filename: file.filename, size: Number(file.size), mime_type: file.mime_type };
    }
  },
};
