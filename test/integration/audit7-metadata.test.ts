import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/database.js';
import { indexesOf, startEngine, UUID_PK, type EngineHarness } from '../support/engine.js';
import { holdTransaction as hold, untilLockWaiters } from '../support/locks.js';

/** Audit 7: entity admin API and auto-migration under data and concurrency (spec: metadata.md §2, §5, §6). */

let h: EngineHarness;
beforeAll(async () => {
  h = await startEngine();
});
afterAll(async () => {
  await h?.close();
});

const ents = (path = '') => `/_admin/entities${path}`;

const entity = (name: string, fields: unknown[], extra: Record<string, unknown> = {}) => ({
  name,
  table: `${name}_rows`,
  primary_key: UUID_PK,
  fields: [{ name: 'id', type: 'uuid' }, ...fields],
  ...extra,
});

/** Holds a transaction of the app database open until `release`; `commit: false` rolls it back then. */
const holdTransaction = async (work: (tx: Queryable) => Promise<void>, commit = true) => hold((await h.runtime()).db, work, commit);

/** Waits until some session of the app database waits on a lock while running a statement starting with `prefix`. */
const untilWaiting = (prefix: string) => untilLockWaiters(h.q, 1, prefix);

async function untilExists(relname: string) {
  for (let i = 0; i < 200; i++) {
    if ((await h.q('SELECT 1 FROM pg_class WHERE relname = $1', [relname])).length > 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${relname} never appeared`);
}

describe('fields removed from the metadata', () => {
  it('a removed field with a default and unique: true no longer fills its column, so creates keep working', async () => {
    await h.entity(
      entity('coupon', [
        { name: 'title', type: 'string' },
        { name: 'code', type: 'string', unique: true, default: 'FREE' },
        { name: 'rank', type: 'int', required: true, unique: true, default: 1 },
      ]),
    );
    await h.create('coupon', { title: 'first' });
    const put = await h.put(ents('/coupon'), entity('coupon', [{ name: 'title', type: 'string' }]));
    expect(put.status, JSON.stringify(put.body)).toBe(200);

    // Invisible fields (metadata.md §5) must not make the second and later creates collide on their old defaults.
    for (const title of ['second', 'third']) {
      const res = await h.post('/coupon', { title });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.data).toEqual({ id: expect.any(String), title });
    }
    // The column and its data stay.
    expect(await h.q('SELECT title, code, rank FROM coupon_rows ORDER BY title')).toEqual([
      { title: 'first', code: 'FREE', rank: 1 },
      { title: 'second', code: null, rank: null },
      { title: 'third', code: null, rank: null },
    ]);

    // Declared again, the field gets its default back.
    const again = await h.put(
      ents('/coupon'),
      entity('coupon', [
        { name: 'title', type: 'string' },
        { name: 'code', type: 'string', default: 'FREE' },
      ]),
    );
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect((await h.post('/coupon', { title: 'fourth' })).body.data.code).toBe('FREE');
  });
});

describe('declared index names', () => {
  it('an index named like the new table, its primary key or its key sequence is a 422 naming the index, not a DDL failure', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [entity('ixself', [{ name: 's', type: 'string' }], { indexes: [{ fields: ['s'], name: 'ixself_rows' }] }), 'ixself_rows'],
      [entity('ixpkey', [{ name: 's', type: 'string' }], { indexes: [{ fields: ['s'], name: 'ixpkey_rows_pkey' }] }), 'ixpkey_rows_pkey'],
      [
        {
          name: 'ixseq',
          table: 'ixseq_rows',
          primary_key: { field: 'id', type: 'int', generated: true },
          fields: [
            { name: 'id', type: 'int' },
            { name: 's', type: 'string' },
          ],
          indexes: [{ fields: ['s'], name: 'ixseq_rows_id_seq' }],
        },
        'ixseq_rows_id_seq',
      ],
    ];
    for (const [body, name] of cases) {
      const res = await h.post(ents(), body);
      expect(res.status, JSON.stringify(res.body)).toBe(422);
      const message = `indexes[0]: index name ${name} is already used by the table itself (its name, primary key or key sequence)`;
      expect(res.body.error).toEqual({
        code: 'VALIDATION_FAILED',
        message,
        details: [{ field: 'indexes[0].name', rule: 'definition', message }],
      });
      expect(await h.q('SELECT 1 FROM _entities WHERE name = $1', [body.name])).toEqual([]);
      expect(await h.q('SELECT 1 FROM pg_class WHERE relname = $1', [body.table])).toEqual([]);
    }
  });
});

describe('key type changes on a new table', () => {
  it('are refused while a relation needs the old key type: no relation vanishes, no include fails', async () => {
    await h.entity(entity('shelf7', [{ name: 's', type: 'string' }]));
    await h.entity(entity('book7', [{ name: 'shelf_id', type: 'uuid' }]));
    await h.entity(entity('label7', [{ name: 's', type: 'string' }]));
    await h.relation({ name: 'books', type: 'one_to_many', source: 'shelf7', target: 'book7', target_key: 'shelf_id' });
    await h.relation({
      name: 'labels',
      type: 'many_to_many',
      source: 'shelf7',
      target: 'label7',
      join_table: 'shelf7_labels',
      source_join_key: 'shelf_id',
      target_join_key: 'label_id',
    });
    const intKey = (name: string) => ({
      name,
      table: `${name}_moved`,
      primary_key: { field: 'id', type: 'int', generated: true },
      fields: [
        { name: 'id', type: 'int' },
        { name: 's', type: 'string' },
      ],
    });

    const source = await h.put(ents('/shelf7'), intKey('shelf7'));
    expect(source.status, JSON.stringify(source.body)).toBe(422);
    expect(source.body.error).toEqual({
      code: 'VALIDATION_FAILED',
      message: 'relation books would no longer be valid: target_key shelf_id (uuid) cannot hold the primary key of shelf7 (int)',
    });
    const target = await h.put(ents('/label7'), intKey('label7'));
    expect(target.status, JSON.stringify(target.body)).toBe(422);
    expect(target.body.error).toEqual({
      code: 'VALIDATION_FAILED',
      message: 'primary key type of label7 is used by the join table of relation labels and cannot change',
    });
    for (const table of ['shelf7_moved', 'label7_moved']) expect(await h.q('SELECT 1 FROM pg_class WHERE relname = $1', [table])).toEqual([]);

    await h.create('shelf7', { s: 'top' });
    const list = await h.get('/shelf7?include=books,labels');
    expect(list.status, JSON.stringify(list.body)).toBe(200);
    expect(list.body.data).toEqual([{ id: expect.any(String), s: 'top', books: [], labels: [] }]);
  });
});

describe('many_to_many join tables', () => {
  it('a join_table named like an index or sequence is refused as taken, not as missing', async () => {
    await h.entity(entity('jsrc7', [{ name: 's', type: 'string' }]));
    await h.entity(entity('jtgt7', [{ name: 's', type: 'string' }]));
    await h.q('CREATE SEQUENCE jseq7');
    for (const name of ['jsrc7_rows_pkey', 'jseq7']) {
      const res = await h.post('/_admin/relations', {
        name: `rel_${name}`,
        type: 'many_to_many',
        source: 'jsrc7',
        target: 'jtgt7',
        join_table: name,
        source_join_key: 'src_id',
        target_join_key: 'tgt_id',
      });
      expect(res.status, JSON.stringify(res.body)).toBe(422);
      const message = `join_table ${name} is already used by another object of the database (an index, sequence or view)`;
      expect(res.body.error).toEqual({ code: 'VALIDATION_FAILED', message, details: [{ field: 'join_table', rule: 'definition', message }] });
      expect(await h.q('SELECT 1 FROM _relations WHERE name = $1', [`rel_${name}`])).toEqual([]);
    }
  });
});

describe('soft delete switched on over a kept deleted_at column', () => {
  it('a kept deleted_at that is no timestamp, or that holds values, is a 422: no row vanishes', async () => {
    await h.entity(
      entity('kept_int7', [
        { name: 'deleted_at', type: 'int', required: true },
        { name: 's', type: 'string' },
      ]),
    );
    await h.create('kept_int7', { deleted_at: 5, s: 'a' });
    const asInt = await h.put(ents('/kept_int7'), entity('kept_int7', [{ name: 's', type: 'string' }], { soft_delete: true }));
    expect(asInt.status, JSON.stringify(asInt.body)).toBe(422);
    const intMessage = 'column deleted_at of kept_int7_rows is integer (kept from a removed field), not a timestamp';
    expect(asInt.body.error).toEqual({
      code: 'VALIDATION_FAILED',
      message: `soft_delete: ${intMessage}`,
      details: [{ field: 'soft_delete', rule: 'migration', message: intMessage }],
    });
    expect((await h.get('/kept_int7')).body.data).toHaveLength(1);

    await h.entity(
      entity('kept_ts7', [
        { name: 'deleted_at', type: 'timestamp' },
        { name: 's', type: 'string' },
      ]),
    );
    await h.create('kept_ts7', { deleted_at: '2024-01-01T00:00:00Z', s: 'a' });
    const withValues = await h.put(ents('/kept_ts7'), entity('kept_ts7', [{ name: 's', type: 'string' }], { soft_delete: true }));
    expect(withValues.status, JSON.stringify(withValues.body)).toBe(422);
    expect(withValues.body.error.message).toBe(
      'soft_delete: rows of kept_ts7_rows hold values in deleted_at (kept from a removed field): turning soft delete on would hide them',
    );
    expect((await h.get('/kept_ts7')).body.data).toHaveLength(1);
  });

  it('a kept required timestamp deleted_at loses its NOT NULL, so creates work once soft delete is on', async () => {
    await h.entity(entity('kept_req7', [{ name: 'deleted_at', type: 'timestamp', required: true }]));
    const on = await h.put(ents('/kept_req7'), entity('kept_req7', [], { soft_delete: true }));
    expect(on.status, JSON.stringify(on.body)).toBe(200);
    const res = await h.post('/kept_req7', {});
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data).toEqual({ id: expect.any(String), deleted_at: null });
    expect((await h.del(`/kept_req7/${res.body.data.id}`)).status).toBe(200);
    expect((await h.get('/kept_req7')).body.data).toEqual([]);
  });
});

describe('soft delete toggled on a one_to_one target', () => {
  it('switching soft delete on makes its one-live-child index partial: a soft-deleted child no longer blocks a new one', async () => {
    await h.entity(entity('owner7', [{ name: 's', type: 'string' }]));
    await h.entity(entity('passport7', [{ name: 'owner_id', type: 'uuid' }]));
    await h.relation({ name: 'passport', type: 'one_to_one', source: 'owner7', target: 'passport7', target_key: 'owner_id' });
    const on = await h.put(ents('/passport7'), entity('passport7', [{ name: 'owner_id', type: 'uuid' }], { soft_delete: true }));
    expect(on.status, JSON.stringify(on.body)).toBe(200);
    const uq = (await indexesOf(h, 'passport7_rows')).filter((i) => i.unique && !i.primary);
    expect(uq).toEqual([expect.objectContaining({ columns: ['owner_id'], predicate: '(deleted_at IS NULL)' })]);

    const owner = await h.create('owner7', { s: 'o' });
    const first = await h.create('passport7', { owner_id: owner.id });
    expect((await h.post('/passport7', { owner_id: owner.id })).status).toBe(409);
    expect((await h.del(`/passport7/${first.id}`)).status).toBe(200);
    const next = await h.post('/passport7', { owner_id: owner.id });
    expect(next.status, JSON.stringify(next.body)).toBe(201);

    // And back: without soft delete the index is a plain one again.
    await h.q('DELETE FROM passport7_rows WHERE deleted_at IS NOT NULL');
    const off = await h.put(ents('/passport7'), entity('passport7', [{ name: 'owner_id', type: 'uuid' }]));
    expect(off.status, JSON.stringify(off.body)).toBe(200);
    const plain = (await indexesOf(h, 'passport7_rows')).filter((i) => i.unique && !i.primary);
    expect(plain).toEqual([expect.objectContaining({ columns: ['owner_id'], predicate: null })]);
    expect((await h.post('/passport7', { owner_id: owner.id })).status).toBe(409);
  });
});

describe('concurrent admin changes', () => {
  it('an index name another change commits between the plan and the build → 409 CONFLICT, nothing stored', async () => {
    // The create's INSERT into _entities waits behind this uncommitted row of the same name…
    const hold = await holdTransaction(async (tx) => {
      await tx.query(`INSERT INTO _entities (name, table_name, definition) VALUES ('racer', 'racer_hold', '{}'::jsonb)`);
    }, false);
    const create = h.post(ents(), entity('racer', [{ name: 'a', type: 'string' }], { indexes: [{ fields: ['a'], name: 'race_named_ix' }] }));
    await untilWaiting('INSERT INTO _entities');
    // …while another table takes the index name it planned to use.
    await h.q('CREATE TABLE race_other (a int)');
    await h.q('CREATE INDEX race_named_ix ON race_other (a)');
    await hold.release();

    const res = await create;
    expect(res.status, JSON.stringify(res.body)).toBe(409);
    expect(res.body.error.code).toBe('CONFLICT');
    expect(res.body.error.message).toBe('indexes[0]: index race_named_ix was created by a concurrent change; try again');
    expect(await h.q(`SELECT name FROM _entities WHERE name = 'racer'`)).toEqual([]);
    expect(await h.q(`SELECT 1 FROM pg_class WHERE relname = 'racer_rows'`)).toEqual([]);
    expect((await indexesOf(h, 'race_other')).map((i) => i.name)).toEqual(['race_named_ix']);
  });

  it('an index name another change is still creating → 409 CONFLICT, not a 422 about duplicate rows', async () => {
    const hold = await holdTransaction(async (tx) => {
      await tx.query('CREATE TABLE race_other2 (a int)');
      await tx.query('CREATE INDEX race_named_ix2 ON race_other2 (a)');
    });
    const create = h.post(ents(), entity('racer2', [{ name: 'a', type: 'string' }], { indexes: [{ fields: ['a'], name: 'race_named_ix2' }] }));
    await untilWaiting('CREATE INDEX');
    await hold.release();

    const res = await create;
    expect(res.status, JSON.stringify(res.body)).toBe(409);
    expect(res.body.error).toEqual({ code: 'CONFLICT', message: 'indexes[0]: index race_named_ix2 was created by a concurrent change; try again' });
    expect(await h.q(`SELECT name FROM _entities WHERE name = 'racer2'`)).toEqual([]);
  });

  it('two PUTs declaring the same new index at once: never a 500; the index and the definition agree', async () => {
    await h.entity(
      entity('busy', [
        { name: 'a', type: 'string' },
        { name: 'b', type: 'int' },
      ]),
    );
    await h.q(`INSERT INTO busy_rows (a, b) SELECT 'v' || g, g FROM generate_series(1, 100) g`);
    const def = entity(
      'busy',
      [
        { name: 'a', type: 'string' },
        { name: 'b', type: 'int' },
      ],
      { indexes: [{ fields: ['a', 'b'] }] },
    );
    // A writer's open transaction keeps the first PUT's CREATE INDEX CONCURRENTLY waiting after its catalog entry…
    const writer = await holdTransaction(async (tx) => {
      await tx.query('LOCK TABLE busy_rows IN ROW EXCLUSIVE MODE');
    });
    const first = h.put(ents('/busy'), def);
    await untilExists('busy_rows_a_b_idx');
    // …so the second PUT finds that index unfinished, and waits for the table inside its transaction.
    const second = h.put(ents('/busy'), def);
    await untilWaiting('ALTER TABLE');
    await writer.release();

    const answers = await Promise.all([first, second]);
    for (const res of answers) expect([200, 409], JSON.stringify(res.body)).toContain(res.status);
    expect(answers.some((r) => r.status === 200)).toBe(true);
    for (const res of answers.filter((r) => r.status === 409)) {
      expect(res.body.error).toEqual({ code: 'CONFLICT', message: 'Entity busy was changed by a concurrent request; try again' });
    }
    const [stored] = await h.q<{ definition: { indexes?: unknown } }>(`SELECT definition FROM _entities WHERE name = 'busy'`);
    expect(stored?.definition.indexes).toEqual([{ fields: ['a', 'b'] }]);
    const valid = await h.q(
      `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'busy_rows_a_b_idx'`,
    );
    expect(valid).toEqual([{ valid: true }]);
    // Sent again, the loser's change goes through.
    expect((await h.put(ents('/busy'), def)).status).toBe(200);
  });

  it('a PUT of an entity that a concurrent DELETE removes → 404, with no table or column made for it', async () => {
    await h.entity(entity('fleeting', [{ name: 's', type: 'string' }]));
    // Both requests queue behind a lock on the row: the DELETE first, then the PUT (which has read the row already).
    const hold = await holdTransaction(async (tx) => {
      await tx.query(`SELECT 1 FROM _entities WHERE name = 'fleeting' FOR UPDATE`);
    });
    const del = h.del(ents('/fleeting'));
    await untilWaiting('DELETE FROM _entities');
    const put = h.put(ents('/fleeting'), { ...entity('fleeting', [{ name: 'added', type: 'int' }]), table: 'fleeting_moved' });
    await untilWaiting('UPDATE _entities');
    await hold.release();

    expect((await del).status).toBe(200);
    const res = await put;
    expect(res.status, JSON.stringify(res.body)).toBe(404);
    expect(res.body.error).toEqual({ code: 'NOT_FOUND', message: 'Entity not found: fleeting' });
    expect(await h.q(`SELECT 1 FROM pg_class WHERE relname = 'fleeting_moved'`)).toEqual([]);
    expect((await h.get('/fleeting')).status).toBe(404);
  });

  it('a PUT of a relation that a concurrent DELETE removes → 404, and its target gets no one_to_one index', async () => {
    await h.entity(entity('parent7', [{ name: 's', type: 'string' }]));
    await h.entity(entity('child7', [{ name: 'parent_id', type: 'uuid' }]));
    await h.relation({ name: 'kids7', type: 'one_to_many', source: 'parent7', target: 'child7', target_key: 'parent_id' });
    const hold = await holdTransaction(async (tx) => {
      await tx.query(`SELECT 1 FROM _relations WHERE name = 'kids7' FOR UPDATE`);
    });
    const del = h.del('/_admin/relations/kids7');
    await untilWaiting('DELETE FROM _relations');
    const put = h.put('/_admin/relations/kids7', { type: 'one_to_one', source: 'parent7', target: 'child7', target_key: 'parent_id' });
    await untilWaiting('UPDATE _relations');
    await hold.release();

    expect((await del).status).toBe(200);
    const res = await put;
    expect(res.status, JSON.stringify(res.body)).toBe(404);
    expect(res.body.error).toEqual({ code: 'NOT_FOUND', message: 'Relation not found: kids7' });
    expect((await indexesOf(h, 'child7_rows')).filter((i) => i.unique && !i.primary)).toEqual([]);
    // Several children of one parent are still allowed.
    const parent = await h.create('parent7', { s: 'p' });
    await h.create('child7', { parent_id: parent.id });
    await h.create('child7', { parent_id: parent.id });
  });
});
