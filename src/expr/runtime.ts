/** Evaluation state shared by compiled closures. */
import type { StepCounter } from './values.js';

export interface Ctx extends StepCounter {
  /** The context variables of this evaluation. */
  readonly vars: Readonly<Record<string, unknown>>;
  /** The element whose keys are the variables of a string expression (`sum(items, 'qty * price')`). */
  elem: unknown;
  /** Arrow-function parameters of the unit being evaluated, by slot. */
  locals: unknown[];
  /** `now()` of this evaluation, fixed on first use. */
  now: Date | undefined;
  /**
   * Expression strings being evaluated inside one another. A string can come from data and name
   * itself (`map([{e: e}], e)` with e = that text), so only this count bounds the recursion.
   */
  depth: number;
}

/** A compiled node. */
export type Eval = (c: Ctx) => unknown;

/** An arrow function or string expression applied to a list element. */
export type Lambda = (c: Ctx, element: unknown, index: number) => unknown;
