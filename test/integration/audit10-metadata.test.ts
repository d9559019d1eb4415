import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/database.js';
import { indexesOf, startEngine, tableExists, UUID_PK, type EngineHarness } from '../support/engine.js';
import { holdTransaction as hold, untilLockWaiters as untilWaiters } from '../support/locks.js';

/** Audit 10: concurrent relation and entity admin changes (spec: metadata.md §3, §5, §6, §7). */

let h: EngineHarness;
beforeAll(async () => {
  h = await startEngine();
});
afterAll(async () => {
  await h?.close();
});

const uuidEntity = (name: string, fields: unknown[] = []) => ({
  name,
  table: name,
  primary_key: UUID_PK,
  fields: [{ name: 'id', type: 'uuid' }, ...fields],
});

/** Holds a transaction of the app database open (after `work`) until `release` is called; it then commits. */
const holdTransaction = async (work: (tx: Queryable) => Promise<void>) => hold((await h.runtime()).db, work);

/** Waits until at least `n` sessions of the app database wait on a lock. */
const untilLockWaiters = (n: number) => untilWaiters(h.q, n);

const relationNames = async () => ((await h.get('/_admin/relations')).body.data as { name: string }[]).map((r) => r.name);

describe('relations created at the same time', () => {
  it('several relations naming one new join table all get it (201), not a 409 about "a record"', async () => {
    await h.entity(uuidEntity('jpost'));
    await h.entity(uuidEntity('jtag'));
    const rel = (name: string) => ({
      name,
      type: 'many_to_many',
      source: 'jpost',
      target: 'jtag',
      join_table: 'jpost_jtag',
      source_join_key: 'post_id',
      target_join_key: 'tag_id',
    });
    const answers = await Promise.all(['jtags_a', 'jtags_b', 'jtags_c'].map((n) => h.post('/_admin/relations', rel(n))));
    expect(answers.map((r) => r.status)).toEqual([201, 201, 201]);
    expect((await relationNames()).filter((n) => n.startsWith('jtags_'))).toEqual(['jtags_a', 'jtags_b', 'jtags_c']);
    const pk = (await indexesOf(h, 'jpost_jtag')).find((i) => i.primary);
    expect(pk?.columns).toEqual(['post_id', 'tag_id']);
    // Each serves the one join table.
    const post = await h.create('jpost', {});
    const tag = await h.create('jtag', {});
    const linked = await h.put(`/jpost/${post.id}`, { jtags_a: { data: [{ id: tag.id }] } });
    expect(linked.status, JSON.stringify(linked.body)).toBe(200);
    const read = await h.get(`/jpost/${post.id}?include=jtags_c`);
    expect(read.body.data.jtags_c.map((t: { id: string }) => t.id)).toEqual([tag.id]);
  });

  it('the same new relation sent twice at once: one 201, the other the spec 409', async () => {
    const rel = {
      name: 'jtags_twice',
      type: 'many_to_many',
      source: 'jpost',
      target: 'jtag',
      join_table: 'jtwice',
      source_join_key: 'p',
      target_join_key: 't',
    };
    const answers = await Promise.all([h.post('/_admin/relations', rel), h.post('/_admin/relations', rel)]);
    expect(answers.map((r) => r.status).sort()).toEqual([201, 409]);
    expect(answers.find((r) => r.status === 409)!.body.error).toEqual({ code: 'CONFLICT', message: 'Relation already exists: jtags_twice' });
    expect(await tableExists(h, 'jtwice')).toBe(true);
  });

  it('two one_to_many relations on one target key at once: both 201, one foreign-key index', async () => {
    await h.entity(uuidEntity('fparent'));
    await h.entity(uuidEntity('fchild', [{ name: 'fparent_id', type: 'uuid' }]));
    const rel = (name: string) => ({ name, type: 'one_to_many', source: 'fparent', target: 'fchild', target_key: 'fparent_id' });
    const answers = await Promise.all([h.post('/_admin/relations', rel('fkids_a')), h.post('/_admin/relations', rel('fkids_b'))]);
    expect(answers.map((r) => r.status)).toEqual([201, 201]);
    const fk = (await indexesOf(h, 'fchild')).filter((i) => !i.primary && i.columns.join() === 'fparent_id');
    expect(fk).toHaveLength(1);
  });
});

describe('a relation created while its entity changes', () => {
  it('a PUT removing the target_key commits first: the relation is a 422 naming the key, nothing stored', async () => {
    await h.entity(uuidEntity('kparent'));
    await h.entity(uuidEntity('kchild', [{ name: 'kparent_id', type: 'uuid' }]));
    // The PUT stores its definition, then waits on its table's lock; the relation create is checked meanwhile.
    const hold = await holdTransaction((tx) => tx.query('LOCK TABLE kchild IN ACCESS EXCLUSIVE MODE').then(() => undefined));
    const put = h.put('/_admin/entities/kchild', uuidEntity('kchild'));
    await untilLockWaiters(1);
    const create = h.post('/_admin/relations', { name: 'kkids', type: 'one_to_many', source: 'kparent', target: 'kchild', target_key: 'kparent_id' });
    await untilLockWaiters(2);
    await hold.release();
    const [p, r] = await Promise.all([put, create]);
    expect(p.status).toBe(200);
    expect(r.status).toBe(422);
    expect(r.body.error.message).toBe('target_key kparent_id not found in fields of kchild');
    expect(await relationNames()).not.toContain('kkids');
  });

  it('the relation commits first: the PUT removing its target_key is a 422, the field stays', async () => {
    await h.entity(uuidEntity('lparent'));
    await h.entity(uuidEntity('lchild', [{ name: 'lparent_id', type: 'uuid' }]));
    // The relation create stores its row, then waits on the target table's lock (its FK index); the PUT meanwhile.
    const hold = await holdTransaction((tx) => tx.query('LOCK TABLE lchild IN ACCESS EXCLUSIVE MODE').then(() => undefined));
    const create = h.post('/_admin/relations', { name: 'lkids', type: 'one_to_many', source: 'lparent', target: 'lchild', target_key: 'lparent_id' });
    await untilLockWaiters(1);
    const put = h.put('/_admin/entities/lchild', uuidEntity('lchild'));
    await untilLockWaiters(2);
    await hold.release();
    const [r, p] = await Promise.all([create, put]);
    expect(r.status).toBe(201);
    expect(p.status).toBe(422);
    expect(p.body.error.message).toBe('field lparent_id is used by relation lkids and cannot be removed');
    const stored = (await h.get('/_admin/entities/lchild')).body.data.definition.fields.map((f: { name: string }) => f.name);
    expect(stored).toEqual(['id', 'lparent_id']);
    const parent = await h.create('lparent', {});
    await h.create('lchild', { lparent_id: parent.id });
    const read = await h.get(`/lparent/${parent.id}?include=lkids`);
    expect(read.status).toBe(200);
    expect(read.body.data.lkids).toHaveLength(1);
  });

  it('its target is deleted first: 422 "target entity not found", no join table made', async () => {
    await h.entity(uuidEntity('mpost'));
    await h.entity(uuidEntity('mtag'));
    // The entity's row is deleted (as DELETE /_admin/entities does) in a transaction the relation create waits on.
    const hold = await holdTransaction((tx) => tx.query(`DELETE FROM _entities WHERE name = 'mtag'`).then(() => undefined));
    const create = h.post('/_admin/relations', {
      name: 'mtags',
      type: 'many_to_many',
      source: 'mpost',
      target: 'mtag',
      join_table: 'mpost_mtag',
      source_join_key: 'post_id',
      target_join_key: 'tag_id',
    });
    await untilLockWaiters(1);
    await hold.release();
    const r = await create;
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: 'target entity not found: mtag' });
    expect(await tableExists(h, 'mpost_mtag')).toBe(false);
    expect(await relationNames()).not.toContain('mtags');
  });

  it('an entity DELETE waiting on a one_to_one being created takes it along and frees its target key', async () => {
    await h.entity(uuidEntity('oowner'));
    await h.entity(uuidEntity('oprofile', [{ name: 'oowner_id', type: 'uuid' }]));
    const hold = await holdTransaction((tx) => tx.query('LOCK TABLE oprofile IN ACCESS EXCLUSIVE MODE').then(() => undefined));
    const create = h.post('/_admin/relations', { name: 'oprof', type: 'one_to_one', source: 'oowner', target: 'oprofile', target_key: 'oowner_id' });
    await untilLockWaiters(1);
    const del = h.del('/_admin/entities/oowner');
    await untilLockWaiters(2);
    await hold.release();
    const [r, d] = await Promise.all([create, del]);
    expect(r.status).toBe(201);
    expect(d.status).toBe(200);
    expect(await relationNames()).not.toContain('oprof');
    // No one_to_one is left on oprofile: its key takes two rows again.
    expect((await indexesOf(h, 'oprofile')).filter((i) => i.unique && !i.primary)).toEqual([]);
    const key = '11111111-1111-4111-8111-111111111111';
    await h.create('oprofile', { oowner_id: key });
    await h.create('oprofile', { oowner_id: key });
  });
});

describe('a rule or state machine saved while its entity is deleted', () => {
  it('answers 422 "entity not found", as once the delete is done, not a 409 about "a related record"', async () => {
    await h.entity(
      uuidEntity('gone', [
        { name: 'title', type: 'string' },
        { name: 'status', type: 'string' },
      ]),
    );
    const rule = await h.post('/_admin/rules', {
      entity: 'gone',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'title', operator: 'min_length', value: 2, message: 'too short' },
    });
    expect(rule.status).toBe(201);
    // The entity's row is deleted (as DELETE /_admin/entities does) in a transaction the saves wait on.
    const hold = await holdTransaction((tx) => tx.query(`DELETE FROM _entities WHERE name = 'gone'`).then(() => undefined));
    const machine = h.post('/_admin/state-machines', {
      entity: 'gone',
      field: 'status',
      definition: { initial: 'a', transitions: [{ from: 'a', to: 'b' }] },
    });
    const newRule = h.post('/_admin/rules', {
      entity: 'gone',
      hook: 'before_write',
      type: 'field',
      definition: { field: 'title', operator: 'max_length', value: 9, message: 'too long' },
    });
    // (The app's pool has 4 connections: the hold, the two saves, and the polling below.)
    await untilLockWaiters(2);
    await hold.release();
    for (const res of [await machine, await newRule]) {
      expect(res.status, JSON.stringify(res.body)).toBe(422);
      expect(res.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'entity not found: gone' });
    }
    expect(await h.q(`SELECT 1 FROM _state_machines WHERE entity = 'gone' UNION ALL SELECT 1 FROM _rules WHERE entity = 'gone'`)).toEqual([]);
  });
});

describe('a field rule saved while a PUT removes its field', () => {
  const fieldRule = (entity: string) => ({
    entity,
    hook: 'before_write',
    type: 'field',
    definition: { field: 'code', operator: 'min_length', value: 2, message: 'code too short' },
  });

  it('the PUT commits first: the rule is a 422 naming the field, nothing stored', async () => {
    await h.entity(uuidEntity('frule_a', [{ name: 'code', type: 'string' }]));
    // The PUT stores its definition, then waits on its table's lock; the rule is checked meanwhile.
    const hold = await holdTransaction((tx) => tx.query('LOCK TABLE frule_a IN ACCESS EXCLUSIVE MODE').then(() => undefined));
    const put = h.put('/_admin/entities/frule_a', uuidEntity('frule_a'));
    await untilLockWaiters(1);
    const rule = h.post('/_admin/rules', fieldRule('frule_a'));
    await untilLockWaiters(2);
    await hold.release();
    const [p, r] = await Promise.all([put, rule]);
    expect(p.status).toBe(200);
    expect(r.status, JSON.stringify(r.body)).toBe(422);
    expect(r.body.error.message).toBe('definition.field: unknown field code of entity frule_a');
    expect(await h.q(`SELECT 1 FROM _rules WHERE entity = 'frule_a'`)).toEqual([]);
  });

  it('the rule commits first: the PUT removing its field is a 422, the field stays', async () => {
    await h.entity(uuidEntity('frule_b', [{ name: 'code', type: 'string' }]));
    // The rule holds its entity's row, then waits to insert; the PUT meanwhile.
    const hold = await holdTransaction((tx) => tx.query('LOCK TABLE _rules IN EXCLUSIVE MODE').then(() => undefined));
    const rule = h.post('/_admin/rules', fieldRule('frule_b'));
    await untilLockWaiters(1);
    const put = h.put('/_admin/entities/frule_b', uuidEntity('frule_b'));
    await untilLockWaiters(2);
    await hold.release();
    const [r, p] = await Promise.all([rule, put]);
    expect(r.status).toBe(201);
    expect(p.status, JSON.stringify(p.body)).toBe(422);
    expect(p.body.error.message).toBe(`field code is used by a field rule (${r.body.data.id}) and cannot be removed`);
    expect((await h.get('/_admin/entities/frule_b')).body.data.definition.fields.map((f: { name: string }) => f.name)).toEqual(['id', 'code']);
    const short = await h.post('/frule_b', { code: 'x' });
    expect(short.status).toBe(422);
  });
});
