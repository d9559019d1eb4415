/**
 * The typed list query (spec: rest-api.md §List) and the one parser of its URL syntax. The HTTP routes
 * (and the realtime subscription, which takes list filters) call `listQueryFromParams`; the read operations
 * take only the typed value and never see a query string.
 *
 * The parser never throws: names are checked against the registry by the operation, after the entity and
 * permission checks, so an unknown entity is still a 404 and a forbidden one a 403 whatever the query holds.
 * What it cannot read travels in `malformed` / `invalidCount` and is refused there with a 400.
 */

import type { ListFilter } from '../metadata/sql/conditions.js';

export type { ListFilter };

/** One item of `sort=a,-b`, its name not yet checked against the registry. */
export interface SortItem {
  name: string;
  desc: boolean;
}

export const COUNT_STRATEGIES = ['exact', 'estimated', 'none'] as const;
export type CountStrategy = (typeof COUNT_STRATEGIES)[number];

export interface ListQuery {
  filters: ListFilter[];
  /** Empty: the primary key order. */
  sort: SortItem[];
  /** 1-based; a missing or unreadable `page` is 1. */
  page: number;
  /** 1..100; a missing or unreadable `per_page` is 25. */
  perPage: number;
  /** Relation names of `include=a,b`, unresolved. */
  include: string[];
  count: CountStrategy;
  /** `cursor=`: an opaque `meta.next_cursor` of an earlier page. */
  cursor?: string;
  /** Query keys that start like a filter but are not `filter[...]`. */
  malformed?: string[];
  /** A `count=` that is no strategy. */
  invalidCount?: string;
}

/** A positive decimal integer ('1e1', '0x10', ' 5' and '2.0' are not), else undefined. */
function positiveInt(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 ? n : undefined;
}

export function pageOf(page: string | undefined, perPage: string | undefined): { page: number; perPage: number } {
  const pp = positiveInt(perPage);
  return { page: positiveInt(page) ?? 1, perPage: pp === undefined ? 25 : Math.min(pp, 100) };
}

/** `sort=a,-b` → items; an empty name stays (the registry check refuses it), also the one of a bare `sort=`. */
export function sortItems(sort: string | undefined): SortItem[] {
  if (sort === undefined) return [];
  return sort.split(',').map((raw) => {
    const item = raw.trim();
    const desc = item.startsWith('-');
    return { name: desc ? item.slice(1).trim() : item, desc };
  });
}

/** `include=a,b` → names (blank items skipped; a repeated name once: it is one key, so one query). */
export function includeNames(include: string | undefined): string[] {
  if (include === undefined || include.trim() === '') return [];
  const names = include
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  return [...new Set(names)];
}

/** Splits raw query-string pairs (`filter[a.b]=v`, `sort`, `page`, …) into a ListQuery. */
export function listQueryFromParams(query: Record<string, unknown>): ListQuery {
  const one = (v: unknown): string | undefined => (Array.isArray(v) ? String(v[v.length - 1]) : v === undefined ? undefined : String(v));
  const filters: ListFilter[] = [];
  const malformed: string[] = [];
  for (const [rawKey, rawValue] of Object.entries(query)) {
    const m = /^filter\[(.*)\]$/.exec(rawKey);
    if (m) {
      for (const v of Array.isArray(rawValue) ? rawValue : [rawValue]) filters.push({ key: m[1]!, value: String(v) });
    } else if (rawKey.startsWith('filter[') || rawKey === 'filter' || /^filter%5b/i.test(rawKey)) {
      // A malformed filter key (an '=' inside the brackets split it, no brackets, brackets encoded twice) must
      // not silently widen the result.
      malformed.push(rawKey);
    }
  }
  const countText = one(query.count);
  const count =
    countText === undefined ? 'exact' : (COUNT_STRATEGIES as readonly string[]).includes(countText) ? (countText as CountStrategy) : undefined;
  const cursor = one(query.cursor);
  return {
    filters,
    sort: sortItems(one(query.sort)),
    ...pageOf(one(query.page), one(query.per_page)),
    include: includeNames(one(query.include)),
    count: count ?? 'exact',
    ...(cursor !== undefined && { cursor }),
    ...(malformed.length > 0 && { malformed }),
    ...(count === undefined && { invalidCount: countText }),
  };
}

/** `include=` of a write (POST/PUT): a single non-empty text only; anything else includes nothing. */
export function writeIncludeNames(query: Record<string, unknown>): string[] {
  const include = query.include;
  return typeof include === 'string' ? includeNames(include) : [];
}
