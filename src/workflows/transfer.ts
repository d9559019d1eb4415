import type { TransferSection } from '../metadata/transfer-sections.js';
import { isObject } from '../metadata/problems.js';
import { createWorkflow, listWorkflows } from './admin.js';

/** Workflows in schema export/import: by name, existing names skipped. */
export const workflowsTransfer: TransferSection = {
  key: 'workflows',
  async exportItems(app) {
    return (await listWorkflows(app)).map(({ name, trigger, context, steps, active }) => ({ name, trigger, context, steps, active }));
  },
  async importItem(app, item, seen) {
    if (!isObject(item) || typeof item.name !== 'string' || item.name === '') return undefined;
    if (seen.has(item.name) || (await listWorkflows(app)).some((w) => w.name === item.name)) return undefined;
    const created = await createWorkflow(app, item);
    seen.add(item.name);
    return { stored: created };
  },
  errorLabel: (item) => `Workflow ${isObject(item) && typeof item.name === 'string' ? item.name : '?'}`,
};
