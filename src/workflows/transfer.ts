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
    // A missing name is skipped (export-import.md step 5, as for entities); a name that is no string goes on to
    // createWorkflow, which refuses it as its admin API does, so the import reports it instead of dropping it.
    if (!isObject(item) || !item.name) return undefined;
    const { name } = item;
    if (typeof name === 'string' && (seen.has(name) || (await listWorkflows(app)).some((w) => w.name === name))) return undefined;
    const created = await createWorkflow(app, item);
    seen.add(created.name);
    return { stored: created };
  },
  errorLabel: (item) => `Workflow ${isObject(item) && typeof item.name === 'string' ? item.name : '?'}`,
};
