/** Comparison operators of list filters and of rules' related_load filters (spec: rest-api.md §Filtering). */
export const FILTER_OPERATORS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'not_in', 'like'] as const;
export type FilterOp = (typeof FILTER_OPERATORS)[number];
