import { describe, expect, it } from 'vitest';
import { makeCaller, type Caller } from '../../src/auth/caller.js';
import { PermissionSet, conditionHolds, type PermissionCondition, type ReadScope } from '../../src/auth/permissions.js';
import { ExactNumber } from '../../src/db/exact-number.js';
import { RocketError } from '../../src/errors.js';

const ALICE = '11111111-1111-4111-8111-111111111111';
const BOB = '22222222-2222-4222-8222-222222222222';

const alice = makeCaller(ALICE, ['Accountant', 'staff'], 'alice@example.com');
const viewer = makeCaller(BOB, ['viewer'], 'bob@example.com');
const admin = makeCaller(BOB, ['admin'], null);
const nobody = makeCaller(BOB, [], null);

let seq = 0;
function row(entity: string, action: string, roles: string[] | null, conditions: unknown = []): Record<string, unknown> {
  seq++;
  return { id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`, entity, action, roles, conditions };
}

/** The RocketError thrown by fn (fails the test if nothing is thrown). */
function thrown(fn: () => unknown): RocketError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RocketError);
    return err as RocketError;
  }
  throw new Error('expected a RocketError');
}

function expectForbidden(fn: () => unknown, message: string): void {
  const err = thrown(fn);
  expect(err.code).toBe('FORBIDDEN');
  expect(err.status).toBe(403);
  expect(err.message).toBe(message);
}

const holds = (record: Record<string, unknown>, c: PermissionCondition, caller: Caller = alice) => conditionHolds(record, c, caller);

describe('conditionHolds: operators', () => {
  it('eq / neq compare as strings', () => {
    expect(holds({ n: 5 }, { field: 'n', operator: 'eq', value: '5' })).toBe(true);
    expect(holds({ n: '5' }, { field: 'n', operator: 'eq', value: 5 })).toBe(true);
    expect(holds({ b: true }, { field: 'b', operator: 'eq', value: 'true' })).toBe(true);
    expect(holds({ s: 'draft' }, { field: 's', operator: 'eq', value: 'Draft' })).toBe(false);
    expect(holds({ s: 'draft' }, { field: 's', operator: 'neq', value: 'sent' })).toBe(true);
    expect(holds({ s: 'draft' }, { field: 's', operator: 'neq', value: 'draft' })).toBe(false);
    expect(holds({ n: 5 }, { field: 'n', operator: 'neq', value: '5' })).toBe(false);
  });

  it('in / not_in need an array and compare members as strings', () => {
    const inList: PermissionCondition = { field: 's', operator: 'in', value: ['draft', 'sent', 3] };
    expect(holds({ s: 'draft' }, inList)).toBe(true);
    expect(holds({ s: 'paid' }, inList)).toBe(false);
    expect(holds({ s: '3' }, inList)).toBe(true);
    expect(holds({ s: 3 }, inList)).toBe(true);
    const notIn: PermissionCondition = { field: 's', operator: 'not_in', value: ['draft', 'sent'] };
    expect(holds({ s: 'paid' }, notIn)).toBe(true);
    expect(holds({ s: 'sent' }, notIn)).toBe(false);
    expect(holds({ s: 'draft' }, { field: 's', operator: 'in', value: 'draft' })).toBe(false);
    expect(holds({ s: 'draft' }, { field: 's', operator: 'not_in', value: 'x' })).toBe(false);
    expect(holds({ s: 'x' }, { field: 's', operator: 'in', value: [] })).toBe(false);
    expect(holds({ s: 'x' }, { field: 's', operator: 'not_in', value: [] })).toBe(true);
  });

  it('gt / gte / lt / lte compare numerically', () => {
    const r = { total: 100, text: '100.5' };
    expect(holds(r, { field: 'total', operator: 'gt', value: 99 })).toBe(true);
    expect(holds(r, { field: 'total', operator: 'gt', value: 100 })).toBe(false);
    expect(holds(r, { field: 'total', operator: 'gte', value: 100 })).toBe(true);
    expect(holds(r, { field: 'total', operator: 'gte', value: 101 })).toBe(false);
    expect(holds(r, { field: 'total', operator: 'lt', value: 101 })).toBe(true);
    expect(holds(r, { field: 'total', operator: 'lt', value: 100 })).toBe(false);
    expect(holds(r, { field: 'total', operator: 'lte', value: 100 })).toBe(true);
    expect(holds(r, { field: 'total', operator: 'lte', value: 99.5 })).toBe(false);
    // numeric strings are numbers, not text: "100.5" > 20 although "100.5" < "20" as text
    expect(holds(r, { field: 'text', operator: 'gt', value: 20 })).toBe(true);
    expect(holds(r, { field: 'total', operator: 'gt', value: '20' })).toBe(true);
  });

  it('ordering treats non-numeric values as 0', () => {
    expect(holds({ x: 'abc' }, { field: 'x', operator: 'lt', value: 1 })).toBe(true);
    expect(holds({ x: 'abc' }, { field: 'x', operator: 'gte', value: 0 })).toBe(true);
    expect(holds({ x: 'abc' }, { field: 'x', operator: 'gt', value: 0 })).toBe(false);
    expect(holds({ x: true }, { field: 'x', operator: 'lte', value: 0 })).toBe(true);
    expect(holds({ x: 5 }, { field: 'x', operator: 'gt', value: 'abc' })).toBe(true);
  });

  it('ordering against a date compares instants', () => {
    const due: PermissionCondition = { field: 'due', operator: 'lt', value: '2024-06-01' };
    expect(holds({ due: '2024-05-31' }, due)).toBe(true);
    expect(holds({ due: '2024-06-02' }, due)).toBe(false);
    expect(holds({ due: new Date('2024-01-01T00:00:00Z') }, due)).toBe(true);
    expect(holds({ due: 'soon' }, due)).toBe(false);
    const after: PermissionCondition = { field: 'at', operator: 'gte', value: '2024-06-01T12:00:00Z' };
    expect(holds({ at: '2024-06-01T12:00:00Z' }, after)).toBe(true);
    expect(holds({ at: '2024-06-01T11:59:59Z' }, after)).toBe(false);
  });

  it('a missing (or null) field never holds, whatever the operator', () => {
    const ops: PermissionCondition[] = [
      { field: 'x', operator: 'eq', value: 'a' },
      { field: 'x', operator: 'neq', value: 'a' },
      { field: 'x', operator: 'in', value: ['a'] },
      { field: 'x', operator: 'not_in', value: ['a'] },
      { field: 'x', operator: 'gt', value: -1 },
      { field: 'x', operator: 'gte', value: -1 },
      { field: 'x', operator: 'lt', value: 1 },
      { field: 'x', operator: 'lte', value: 1 },
    ];
    for (const c of ops) {
      expect(holds({}, c), c.operator).toBe(false);
      expect(holds({ x: null }, c), c.operator).toBe(false);
    }
    // inherited properties are not fields
    expect(holds({}, { field: 'constructor', operator: 'neq', value: 'x' })).toBe(false);
  });

  it('with the entity fields: decimals read plainly, int8 digits exactly, json fields never hold', () => {
    const fields = new Map([
      ['d', { type: 'decimal' as const }],
      ['big', { type: 'bigint' as const }],
      ['j', { type: 'json' as const }],
    ]);
    const typed = (record: Record<string, unknown>, c: PermissionCondition) => conditionHolds(record, c, alice, fields);
    expect(typed({ d: 1e-7 }, { field: 'd', operator: 'eq', value: '0.0000001' })).toBe(true);
    expect(typed({ d: 1.5 }, { field: 'd', operator: 'eq', value: '1.50' })).toBe(false);
    const big = new ExactNumber('9007199254740993');
    expect(typed({ big }, { field: 'big', operator: 'eq', value: '9007199254740993' })).toBe(true);
    expect(typed({ big }, { field: 'big', operator: 'gt', value: 2 ** 53 })).toBe(true);
    expect(typed({ j: 'a' }, { field: 'j', operator: 'eq', value: 'a' })).toBe(false);
    expect(typed({ j: 'a' }, { field: 'j', operator: 'neq', value: 'b' })).toBe(false);
    expect(typed({ x: 'a' }, { field: 'x', operator: 'eq', value: 'a' })).toBe(false); // not a field of the entity
  });

  it('only plain decimal literals are numbers; dates are checked, offset-less ones are UTC', () => {
    expect(holds({ x: '0x10' }, { field: 'x', operator: 'gt', value: 1 })).toBe(false);
    expect(holds({ x: ' 5' }, { field: 'x', operator: 'gt', value: 1 })).toBe(false);
    expect(holds({ x: '1e3' }, { field: 'x', operator: 'gt', value: 999 })).toBe(true);
    expect(holds({ x: '2024-02-30' }, { field: 'x', operator: 'lt', value: '2025-01-01' })).toBe(false);
    expect(holds({ x: '2024-06-01T10:00' }, { field: 'x', operator: 'gte', value: '2024-06-01T10:00:00Z' })).toBe(true);
    expect(holds({ x: '2024-06-01T10:00' }, { field: 'x', operator: 'gt', value: '2024-06-01T10:00:00Z' })).toBe(false);
  });

  it('an unknown operator never holds', () => {
    const c = { field: 'x', operator: 'like', value: 'a' } as unknown as PermissionCondition;
    expect(holds({ x: 'a' }, c)).toBe(false);
  });

  it('substitutes $user.id, $user.email and $user.roles', () => {
    expect(holds({ owner: ALICE }, { field: 'owner', operator: 'eq', value: '$user.id' })).toBe(true);
    expect(holds({ owner: BOB }, { field: 'owner', operator: 'eq', value: '$user.id' })).toBe(false);
    expect(holds({ owner: BOB }, { field: 'owner', operator: 'neq', value: '$user.id' })).toBe(true);
    expect(holds({ mail: 'alice@example.com' }, { field: 'mail', operator: 'eq', value: '$user.email' })).toBe(true);
    expect(holds({ team: 'staff' }, { field: 'team', operator: 'in', value: '$user.roles' })).toBe(true);
    expect(holds({ team: 'ops' }, { field: 'team', operator: 'in', value: '$user.roles' })).toBe(false);
    expect(holds({ team: 'ops' }, { field: 'team', operator: 'not_in', value: '$user.roles' })).toBe(true);
    expect(holds({ owner: ALICE }, { field: 'owner', operator: 'in', value: ['$user.id', 'x'] })).toBe(true);
    // a caller without an email: $user.email matches nothing, not even the literal text
    const noMail = makeCaller(ALICE, ['staff'], null);
    expect(holds({ mail: '$user.email' }, { field: 'mail', operator: 'eq', value: '$user.email' }, noMail)).toBe(false);
    expect(holds({ mail: 'x' }, { field: 'mail', operator: 'neq', value: '$user.email' }, noMail)).toBe(false);
    // $user.roles is a list: meaningless for eq
    expect(holds({ team: 'staff' }, { field: 'team', operator: 'eq', value: '$user.roles' })).toBe(false);
  });
});

describe('PermissionSet.check', () => {
  const set = PermissionSet.fromRows([
    row('invoice', 'create', ['accountant']),
    row('invoice', 'read', ['accountant']),
    row('invoice', 'update', ['accountant'], [{ field: 'status', operator: 'in', value: ['draft', 'sent'] }]),
    row('invoice', 'update', ['staff'], [{ field: 'owner_id', operator: 'eq', value: '$user.id' }]),
    row('invoice', 'delete', ['manager']),
    row(
      'invoice',
      'delete',
      ['ACCOUNTANT'],
      [
        { field: 'status', operator: 'eq', value: 'draft' },
        { field: 'total', operator: 'lt', value: 1000 },
      ],
    ),
    row('note', 'create', ['viewer'], [{ field: 'never', operator: 'eq', value: 'x' }]),
  ]);

  it('no policy for (entity, action) → 403 "No permission for …"', () => {
    expectForbidden(() => set.check(alice, 'order', 'read'), 'No permission for read on order');
    expectForbidden(() => set.check(alice, 'note', 'delete'), 'No permission for delete on note');
    expectForbidden(() => PermissionSet.empty().check(alice, 'invoice', 'create'), 'No permission for create on invoice');
  });

  it('policies exist but none matches the roles → 403 "Permission denied for …"', () => {
    expectForbidden(() => set.check(viewer, 'invoice', 'create'), 'Permission denied for create on invoice');
    expectForbidden(() => set.check(nobody, 'invoice', 'read'), 'Permission denied for read on invoice');
  });

  it('role match is case-insensitive both ways', () => {
    expect(() => set.check(alice, 'invoice', 'create')).not.toThrow(); // policy "accountant", caller "Accountant"
    expect(() => set.check(alice, 'invoice', 'delete', { status: 'draft', total: 10 })).not.toThrow(); // "ACCOUNTANT"
  });

  it('admin (exact role) passes everything, even with no policies', () => {
    for (const action of ['read', 'create', 'update', 'delete'] as const) {
      expect(() => set.check(admin, 'anything', action)).not.toThrow();
      expect(() => PermissionSet.empty().check(admin, 'invoice', action, {})).not.toThrow();
    }
    const notQuiteAdmin = makeCaller(BOB, ['Admin'], null);
    expectForbidden(() => set.check(notQuiteAdmin, 'anything', 'read'), 'No permission for read on anything');
  });

  it('create ignores conditions', () => {
    expect(() => set.check(viewer, 'note', 'create', { never: 'no' })).not.toThrow();
    expect(() => set.check(viewer, 'note', 'create')).not.toThrow();
  });

  it('update: a matching policy whose conditions all hold on the stored record', () => {
    expect(() => set.check(alice, 'invoice', 'update', { status: 'sent', owner_id: BOB })).not.toThrow();
    // accountant policy fails, staff policy (owner) holds
    expect(() => set.check(alice, 'invoice', 'update', { status: 'paid', owner_id: ALICE })).not.toThrow();
    expectForbidden(() => set.check(alice, 'invoice', 'update', { status: 'paid', owner_id: BOB }), 'Permission denied for update on invoice');
    // without a record, conditional policies cannot hold
    expectForbidden(() => set.check(alice, 'invoice', 'update'), 'Permission denied for update on invoice');
  });

  it('delete: all conditions of one policy must hold (AND); a policy without conditions allows', () => {
    expect(() => set.check(alice, 'invoice', 'delete', { status: 'draft', total: 999 })).not.toThrow();
    expectForbidden(() => set.check(alice, 'invoice', 'delete', { status: 'draft', total: 1000 }), 'Permission denied for delete on invoice');
    expectForbidden(() => set.check(alice, 'invoice', 'delete', { status: 'sent', total: 1 }), 'Permission denied for delete on invoice');
    const manager = makeCaller(BOB, ['manager'], null);
    expect(() => set.check(manager, 'invoice', 'delete', { status: 'paid', total: 1e9 })).not.toThrow();
    expect(() => set.check(manager, 'invoice', 'delete')).not.toThrow();
  });

  it('read with a record: visible under one matching policy', () => {
    const s = PermissionSet.fromRows([row('doc', 'read', ['staff'], [{ field: 'owner', operator: 'eq', value: '$user.id' }])]);
    expect(() => s.check(alice, 'doc', 'read')).not.toThrow();
    expect(() => s.check(alice, 'doc', 'read', { owner: ALICE })).not.toThrow();
    expectForbidden(() => s.check(alice, 'doc', 'read', { owner: BOB }), 'Permission denied for read on doc');
  });

  it('entity names are exact', () => {
    expectForbidden(() => set.check(alice, 'Invoice', 'create'), 'No permission for create on Invoice');
  });
});

describe('PermissionSet.readScope / includeScope', () => {
  const owner: PermissionCondition = { field: 'owner_id', operator: 'eq', value: '$user.id' };
  const open: PermissionCondition = { field: 'status', operator: 'in', value: ['open', 'pending'] };
  const small: PermissionCondition = { field: 'total', operator: 'lt', value: 100 };

  it('admin → all, without any policy', () => {
    expect(PermissionSet.empty().readScope(admin, 'x')).toEqual({ kind: 'all' });
    expect(PermissionSet.empty().includeScope(admin, 'x')).toEqual({ kind: 'all' });
  });

  it('no policy / no matching policy → 403 for readScope, nothing for includeScope', () => {
    const set = PermissionSet.fromRows([row('ticket', 'read', ['agent'])]);
    expectForbidden(() => set.readScope(alice, 'order'), 'No permission for read on order');
    expectForbidden(() => set.readScope(alice, 'ticket'), 'Permission denied for read on ticket');
    expect(set.includeScope(alice, 'order')).toEqual({ kind: 'some', groups: [] });
    expect(set.includeScope(alice, 'ticket')).toEqual({ kind: 'some', groups: [] });
  });

  it('a matching policy without conditions makes every row visible', () => {
    const set = PermissionSet.fromRows([row('ticket', 'read', ['staff'], [owner]), row('ticket', 'read', ['accountant'])]);
    expect(set.readScope(alice, 'ticket')).toEqual({ kind: 'all' });
    expect(set.includeScope(alice, 'ticket')).toEqual({ kind: 'all' });
  });

  it('conditions of one policy AND together; policies OR together; $user values resolved', () => {
    const set = PermissionSet.fromRows([
      row('ticket', 'read', ['staff'], [owner]),
      row('ticket', 'read', ['accountant'], [open, small]),
      row('ticket', 'read', ['viewer'], [{ field: 'public', operator: 'eq', value: true }]),
    ]);
    const expected: ReadScope = {
      kind: 'some',
      groups: [[{ field: 'owner_id', operator: 'eq', value: ALICE }], [open, small]],
    };
    expect(set.readScope(alice, 'ticket')).toEqual(expected);
    expect(set.includeScope(alice, 'ticket')).toEqual(expected);
    // viewer only gets the viewer policy
    expect(set.readScope(viewer, 'ticket')).toEqual({
      kind: 'some',
      groups: [[{ field: 'public', operator: 'eq', value: true }]],
    });
  });

  it('$user.roles and $user.email are substituted; list members too', () => {
    const set = PermissionSet.fromRows([
      row('doc', 'read', ['staff'], [{ field: 'team', operator: 'in', value: '$user.roles' }]),
      row('doc', 'read', ['staff'], [{ field: 'author', operator: 'eq', value: '$user.email' }]),
      row('doc', 'read', ['staff'], [{ field: 'editor', operator: 'not_in', value: ['$user.id', 'x'] }]),
    ]);
    expect(set.readScope(alice, 'doc')).toEqual({
      kind: 'some',
      groups: [
        [{ field: 'team', operator: 'in', value: ['Accountant', 'staff'] }],
        [{ field: 'author', operator: 'eq', value: 'alice@example.com' }],
        [{ field: 'editor', operator: 'not_in', value: [ALICE, 'x'] }],
      ],
    });
  });

  it('a group needing a value the caller lacks ($user.email, no email) is dropped', () => {
    const set = PermissionSet.fromRows([row('doc', 'read', ['staff'], [{ field: 'author', operator: 'eq', value: '$user.email' }])]);
    const noMail = makeCaller(ALICE, ['staff'], null);
    expect(set.readScope(noMail, 'doc')).toEqual({ kind: 'some', groups: [] });
  });

  it('returned scopes do not expose or share the stored policies', () => {
    const set = PermissionSet.fromRows([row('doc', 'read', ['staff'], [open])]);
    const scope = set.readScope(alice, 'doc');
    if (scope.kind !== 'some') throw new Error('expected some');
    scope.groups[0]!.push(small);
    expect(set.readScope(alice, 'doc')).toEqual({ kind: 'some', groups: [[open]] });
  });
});

describe('PermissionSet.fromRows', () => {
  it('accepts conditions as JSON text or NULL, roles as NULL', () => {
    const set = PermissionSet.fromRows([
      row('a', 'read', null, null),
      row('b', 'read', ['staff'], JSON.stringify([{ field: 'x', operator: 'eq', value: 1 }])),
    ]);
    expectForbidden(() => set.readScope(alice, 'a'), 'Permission denied for read on a');
    expect(set.readScope(alice, 'b')).toEqual({ kind: 'some', groups: [[{ field: 'x', operator: 'eq', value: 1 }]] });
  });

  it('skips unparseable rows (they grant nothing)', () => {
    const set = PermissionSet.fromRows([
      null,
      'x',
      row('', 'read', ['staff']),
      row('a', 'write', ['staff']),
      row('a', 'read', 'staff' as unknown as string[]),
      row('a', 'read', ['staff'], '{not json'),
      row('a', 'read', ['staff'], { field: 'x' }),
      row('a', 'read', ['staff'], [{ field: 'x', operator: 'like', value: 'a%' }]),
      row('a', 'read', ['staff'], [{ field: 'x', operator: 'in', value: 'a' }]),
      row('a', 'read', ['staff'], [{ operator: 'eq', value: 'a' }]),
      row('a', 'create', ['staff']),
    ]);
    expect(set.policies()).toHaveLength(1);
    expectForbidden(() => set.readScope(alice, 'a'), 'No permission for read on a');
    expect(() => set.check(alice, 'a', 'create')).not.toThrow();
  });
});
