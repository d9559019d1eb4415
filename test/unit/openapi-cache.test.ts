import { describe, expect, it } from 'vitest';
import { makeCaller } from '../../src/auth/caller.js';
import { PermissionSet } from '../../src/auth/permissions.js';
import { Registry } from '../../src/metadata/registry.js';
import { DocumentCache, audienceKey, matchesEtag } from '../../src/openapi/cache.js';
import { buildAppDocument } from '../../src/openapi/document.js';
import { baseNames } from '../../src/openapi/names.js';

/** The document cache: built once per (registry snapshot, permission snapshot, role set). */
describe('DocumentCache', () => {
  const build = (counter: { n: number }) => (version: string) => {
    counter.n++;
    const audience = { isAdmin: true, may: () => true };
    return buildAppDocument({ app: 'a', title: 'A', version, registry: Registry.empty(), audience, syncWebhooks: new Set() });
  };

  it('builds once per snapshot pair and audience, and again for a new snapshot', () => {
    const cache = new DocumentCache();
    const counter = { n: 0 };
    const registry = Registry.empty();
    const permissions = PermissionSet.empty();
    const first = cache.served(registry, permissions, 'admin', () => 'v1', 's1', build(counter));
    expect(cache.served(registry, permissions, 'admin', () => 'v1', 's1', build(counter))).toBe(first);
    expect(counter.n).toBe(1);
    cache.served(registry, permissions, 'roles:a', () => 'v1', 's1', build(counter));
    expect(counter.n).toBe(2);
    const next = cache.served(Registry.empty(), permissions, 'admin', () => 'v2', 's1', build(counter));
    expect(counter.n).toBe(3);
    expect(next.etag).not.toBe(first.etag);
    cache.served(registry, PermissionSet.empty(), 'admin', () => 'v1', 's1', build(counter));
    expect(counter.n).toBe(4);
  });

  it('builds again when the version moves under the same snapshots (a UI config, an inactive rule)', () => {
    const cache = new DocumentCache();
    const counter = { n: 0 };
    const registry = Registry.empty();
    const permissions = PermissionSet.empty();
    const first = cache.served(registry, permissions, 'admin', () => 'v1', 's1', build(counter));
    const moved = cache.served(registry, permissions, 'admin', () => 'v1', 's2', build(counter));
    expect(counter.n).toBe(2);
    expect(moved.etag).not.toBe(first.etag);
    expect(JSON.parse(moved.body).info.version).not.toBe(JSON.parse(first.body).info.version);
  });

  it('keys audiences by admin flag and the role set, case and order aside', () => {
    expect(audienceKey(makeCaller('u', ['b', 'A'], null))).toBe(audienceKey(makeCaller('u', ['a', 'B', 'a'], null)));
    expect(audienceKey(makeCaller('u', ['admin', 'x'], null))).toBe(audienceKey(makeCaller('v', ['admin'], null)));
    expect(audienceKey(makeCaller('u', ['a'], null))).not.toBe(audienceKey(makeCaller('u', ['a', 'b'], null)));
  });

  it('matches If-None-Match lists, weak tags and *', () => {
    expect(matchesEtag('"x"', '"x"')).toBe(true);
    expect(matchesEtag('"y", W/"x"', '"x"')).toBe(true);
    expect(matchesEtag('*', '"x"')).toBe(true);
    expect(matchesEtag('"y"', '"x"')).toBe(false);
    expect(matchesEtag(undefined, '"x"')).toBe(false);
  });
});

describe('component names', () => {
  it('never collide, whatever the entity names', () => {
    const names = baseNames(['customer', 'customer_list', 'Customer', 'error', 'a_create', 'a', '9lives'], new Set(['Error', 'ListMeta']));
    expect(names.get('customer')).not.toBe(names.get('Customer'));
    expect(names.get('error')).toBe('Error2');
    expect(names.get('9lives')).toBe('E9lives');
    const all = [...names.values()].flatMap((b) => ['', 'Create', 'Update', 'List'].map((s) => b + s));
    expect(new Set(all).size).toBe(all.length);
    expect(all).not.toContain('ListMeta');
  });

  it("are stable: an entity whose name differs only in case or spelling never takes a lower-case snake_case name's", () => {
    const before = baseNames(['user_profile', 'customer'], new Set());
    const after = baseNames(['user_profile', 'customer', 'User_profile', 'userProfile', 'Customer'], new Set());
    expect(after.get('user_profile')).toBe(before.get('user_profile'));
    expect(after.get('customer')).toBe('Customer');
    expect(after.get('User_profile')).toBe('UserProfile2');
    expect(after.get('userProfile')).toBe('UserProfile3');
  });
});
