import type { CallOut } from '../outbound/delivery.js';
import type { EventSink } from './outbox.js';
import type { WriteObserver } from './write/observers.js';

/**
 * What features plug into the engine of an app. The composition root
 * (rocket.ts) builds it once and hands it to every app runtime; the engine
 * itself imports no feature.
 */
export interface EngineExtensions {
  /** Write observers, in the order they run. */
  readonly observers: readonly WriteObserver[];
  /** Consumer of the `event` rows a write put in the outbox (workflows); without one they stay pending. */
  readonly eventSink?: EventSink;
  /** Outgoing HTTP calls of `webhook` actions (state machines, workflows), under the server's address policy. */
  readonly callOut?: CallOut;
  /**
   * Asks the server's job runner to run the named job over the app no later than `at` (e.g. a workflow
   * approval deadline stored by a write); absent where no jobs run (the command line).
   */
  readonly wakeJob?: (job: string, at: Date, app: string) => void;
}

/** An engine with no features plugged in. */
export const NO_EXTENSIONS: EngineExtensions = Object.freeze({ observers: Object.freeze([]) });
