/** Server settings of the webhooks feature (config: webhook_env_allowlist, webhook_deny_private_networks). */
export interface WebhookSettings {
  /** Environment variable names a `{{env.NAME}}` header template may read: exact names or `PREFIX_*` patterns. */
  readonly envAllowlist: readonly string[];
  /** Refuse to call loopback, private, link-local and cloud-metadata addresses. */
  readonly denyPrivateNetworks: boolean;
}

export const DEFAULT_WEBHOOK_SETTINGS: WebhookSettings = Object.freeze({ envAllowlist: [], denyPrivateNetworks: false });

/** The settings an app runs with; an engine app without any (unit harnesses) gets the defaults. */
export function settingsOf(app: object): WebhookSettings {
  const s = (app as { webhookSettings?: WebhookSettings }).webhookSettings;
  return s ?? DEFAULT_WEBHOOK_SETTINGS;
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
