import { invalidPayload } from '../errors.js';
import { isObject } from '../metadata/problems.js';
import type { TransferSection } from '../metadata/transfer-sections.js';
import { createWebhook, listWebhooks } from './admin.js';

/** Export / import of webhooks (spec: export-import.md, step 7): same entity + hook + url is a duplicate. */

/** Marks `seen` as holding the stored webhooks' keys (not a possible key itself). */
const LOADED = '\u0000stored';
const keyOf = (entity: unknown, hook: unknown, url: unknown) => JSON.stringify([entity, hook ?? 'after_write', url]);

export const webhooksTransfer: TransferSection = {
  key: 'webhooks',
  async exportItems(app) {
    return (await listWebhooks(app)).map(({ entity, hook, url, method, headers, condition, async, retry, active }) => ({
      entity,
      hook,
      url,
      method,
      headers,
      condition,
      async,
      retry,
      active,
    }));
  },
  async importItem(app, item, seen) {
    if (!isObject(item)) throw invalidPayload('webhook must be an object');
    if (!seen.has(LOADED)) {
      for (const w of await listWebhooks(app)) seen.add(keyOf(w.entity, w.hook, w.url));
      seen.add(LOADED);
    }
    const key = keyOf(item.entity, item.hook, item.url);
    if (seen.has(key)) return undefined;
    const created = await createWebhook(app, item);
    seen.add(key);
    seen.add(keyOf(created.entity, created.hook, created.url));
    return { stored: created };
  },
  errorLabel(item) {
    const i = isObject(item) ? item : {};
    return `Webhook (${String(i.entity ?? '?')}/${String(i.hook ?? 'after_write')})`;
  },
};
