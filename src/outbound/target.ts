import { isIP } from 'node:net';
import { addressRefusal } from './address.js';

/**
 * The one definition-time check of an outgoing call's URL (webhooks, state-machine and workflow `webhook`
 * actions; spec: webhooks.md): the message naming `key` (e.g. `url`, `transitions[0].actions[1].url`), or
 * undefined when the URL may be stored. A literal address that no setting allows is refused now; names (and
 * private addresses, which the server setting may deny) are judged on every call, on the addresses actually
 * connected to.
 */
export function targetUrlProblem(url: unknown, key: string): string | undefined {
  if (url === undefined || url === null || url === '') return `${key} is required`;
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) return `${key} must start with http:// or https://`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${key} is not a valid URL`;
  }
  if (parsed.hostname === '') return `${key} is not a valid URL`;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const refusal = isIP(host) ? addressRefusal(host, false) : undefined;
  return refusal ? `${key}: ${host} is ${refusal}` : undefined;
}
