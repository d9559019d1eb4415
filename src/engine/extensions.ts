import type { EngineExtensions } from './context.js';

/** An engine with no features plugged in. */
export const NO_EXTENSIONS: EngineExtensions = Object.freeze({ observers: Object.freeze([]) });
