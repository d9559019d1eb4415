import { type KeyObject, createSecretKey, randomBytes } from 'node:crypto';

/** Server settings of list reads (config: count_estimate_threshold) and the app's cursor key. */
export interface ListSettings {
  /** `count=estimated` returns the planner's estimate from this many matching rows on, else counts. */
  readonly countEstimateThreshold: number;
  /** HMAC key of `meta.next_cursor` (derived from the app's secret); a KeyObject, which HMAC takes without copying. */
  readonly cursorKey: KeyObject;
}

export const DEFAULT_COUNT_ESTIMATE_THRESHOLD = 10_000;

/** For an engine app without settings (unit harnesses): cursors stay valid for the process's life only. */
export const DEFAULT_LIST_SETTINGS: ListSettings = Object.freeze({
  countEstimateThreshold: DEFAULT_COUNT_ESTIMATE_THRESHOLD,
  cursorKey: createSecretKey(randomBytes(32)),
});
