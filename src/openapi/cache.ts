import { createHash } from 'node:crypto';
import type { Caller } from '../auth/caller.js';
import type { PermissionSet } from '../auth/permissions.js';
import type { Registry } from '../metadata/registry.js';
import type { OpenApiDocument } from './types.js';
import { getOrInsert } from '../collections.js';

/** A document ready to send: its JSON text and the ETag naming exactly that text. */
export interface ServedDocument {
  readonly body: string;
  readonly etag: string;
}

/** Role sets a snapshot keeps documents for; beyond it the oldest is dropped (rebuilt when asked again). */
const MAX_AUDIENCES = 256;

interface SnapshotEntry {
  /** The snapshots' part of the version, computed once per snapshot pair. */
  base: string;
  stamp: string;
  version: string;
  docs: Map<string, ServedDocument>;
}

export function digest(text: string, length = 22): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, length);
}

/** What decides a caller's document besides the snapshot: admin or not, and the role set (case-insensitive, unordered). */
export function audienceKey(caller: Caller): string {
  if (caller.isAdmin) return 'admin';
  return `roles:${[...new Set(caller.roles.map((r) => r.toLowerCase()))].sort().join('\u0000')}`;
}

/**
 * info.version: a content hash of everything an app's documents are made from (`context` holds the
 * rest: app name and title, the generator's own version).
 */
export function metadataVersion(registry: Registry, permissions: PermissionSet, syncWebhooks: ReadonlySet<string>, context = ''): string {
  const relations = [...registry.relations.values()].map((r) => r.def);
  const text = JSON.stringify([context, [...registry.entityDefs().values()], relations, permissions.policies(), [...syncWebhooks].sort()]);
  return digest(text, 16);
}

/**
 * Documents per (registry snapshot, permission snapshot, definitions stamp, audience). Both snapshots are replaced,
 * never mutated, on every metadata change, so the weak keys make a change invalidate everything
 * built from the old ones, and a request after the change sees the new document.
 */
export class DocumentCache {
  private readonly snapshots = new WeakMap<Registry, WeakMap<PermissionSet, SnapshotEntry>>();

  served(
    registry: Registry,
    permissions: PermissionSet,
    audience: string,
    base: () => string,
    stamp: string,
    build: (version: string) => OpenApiDocument,
  ): ServedDocument {
    const byPermissions = getOrInsert(this.snapshots, registry, () => new WeakMap());
    const entry = getOrInsert(byPermissions, permissions, (): SnapshotEntry => {
      const b = base();
      return { base: b, stamp, version: digest(`${b}/${stamp}`, 16), docs: new Map() };
    });
    // Definitions outside the compiled snapshots (UI configs, inactive rules) move only the stamp.
    if (entry.stamp !== stamp) {
      entry.stamp = stamp;
      entry.version = digest(`${entry.base}/${stamp}`, 16);
      entry.docs.clear();
    }
    const hit = entry.docs.get(audience);
    if (hit) return hit;
    // The document is a function of the version (all its inputs) and the audience, so the pair names it
    // (hashing the megabyte of JSON instead would cost more than building it).
    const doc = { body: JSON.stringify(build(entry.version)), etag: `"${entry.version}.${digest(audience, 12)}"` };
    if (entry.docs.size >= MAX_AUDIENCES) entry.docs.delete(entry.docs.keys().next().value!);
    entry.docs.set(audience, doc);
    return doc;
  }
}

export function serve(doc: OpenApiDocument): ServedDocument {
  const body = JSON.stringify(doc);
  return { body, etag: `"${digest(body)}"` };
}

/** If-None-Match (a list of entity tags, weak or strong, or *) names this ETag. */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}
