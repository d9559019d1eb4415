import type { AppRuntime } from '../platform/app-runtime.js';
import { workflowsTransfer } from '../workflows/transfer.js';
import { webhooksTransfer } from '../webhooks/transfer.js';
import { uiConfigsTransfer } from './ui-configs-admin.js';

/**
 * Export/import of a metadata kind owned by another feature (workflows,
 * webhooks, UI configs). Each feature lists its section here.
 */
export interface TransferSection {
  key: 'workflows' | 'webhooks' | 'ui_configs';
  /** Items as exported: no ids, no timestamps, spec order. */
  exportItems(app: AppRuntime): Promise<unknown[]>;
  /** Imports one item; false = skipped as a duplicate (of stored items or of `seen` ones). Throws on invalid items. */
  importItem(app: AppRuntime, item: unknown, seen: Set<string>): Promise<boolean>;
  /** How an item is named in `errors`, e.g. "Workflow po_approval". */
  errorLabel(item: unknown): string;
}

export const TRANSFER_SECTIONS: TransferSection[] = [workflowsTransfer, webhooksTransfer, uiConfigsTransfer];
