import type { AdminApp } from './admin-app.js';

/** What an import stored of one item, as its admin API answers it, and the definition it replaced (an upsert). */
export interface ImportedItem {
  stored: unknown;
  replaced?: unknown;
}

/**
 * Export/import of a metadata kind owned by a feature (workflows, webhooks,
 * UI configs). The composition root (rocket.ts) lists the sections; an app
 * runtime carries them in `extensions.transferSections`.
 */
export interface TransferSection {
  /** The key of the export document holding the items, e.g. 'workflows'. */
  key: string;
  /** Items as exported: no ids, no timestamps, spec order. */
  exportItems(app: AdminApp): Promise<unknown[]>;
  /** Imports one item; undefined = skipped as a duplicate (of stored items or of `seen` ones). Throws on invalid items. */
  importItem(app: AdminApp, item: unknown, seen: Set<string>): Promise<ImportedItem | undefined>;
  /** How an item is named in `errors`, e.g. "Workflow po_approval". */
  errorLabel(item: unknown): string;
}
