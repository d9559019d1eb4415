import type { Config } from '../config.js';

/** Server settings of the webhooks feature (config: webhook_env_allowlist, webhook_deny_private_networks). */
export interface WebhookSettings {
  /** Environment variable names a `{{env.NAME}}` header template may read: exact names or `PREFIX_*` patterns. */
  readonly envAllowlist: readonly string[];
  /** Refuse to call loopback and private addresses too (link-local, unspecified and cloud-metadata ones are always refused). */
  readonly denyPrivateNetworks: boolean;
  /** Told the stored status of every call made (delivered, retrying, failed): the metrics' hook. */
  readonly onDelivery?: (outcome: string) => void;
}

export const DEFAULT_WEBHOOK_SETTINGS: WebhookSettings = Object.freeze({ envAllowlist: [], denyPrivateNetworks: false });

/** The webhook settings of a server configuration. */
export function webhookSettings(config: Pick<Config, 'webhookEnvAllowlist' | 'webhookDenyPrivateNetworks'>): WebhookSettings {
  return Object.freeze({ envAllowlist: config.webhookEnvAllowlist, denyPrivateNetworks: config.webhookDenyPrivateNetworks });
}

/** Whether the allow-list lets a template read the variable `name`. */
export function envAllowed(allowlist: readonly string[], name: string): boolean {
  for (const entry of allowlist) {
    if (entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : name === entry) return true;
  }
  return false;
}

const TEMPLATE_RE = /\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/**
 * Header templates → header values: every `{{env.NAME}}` becomes the server
 * environment variable NAME when the allow-list permits it, else (or when it
 * is unset) the empty string.
 */
export function resolveHeaders(
  templates: Readonly<Record<string, string>>,
  allowlist: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(templates)) {
    out[name] = String(value).replace(TEMPLATE_RE, (_m, v: string) => (envAllowed(allowlist, v) ? (env[v] ?? '') : ''));
  }
  return out;
}
