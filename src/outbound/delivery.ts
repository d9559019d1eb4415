import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { addressRefusal } from './address.js';

/** One outgoing HTTP call (webhooks, state-machine and workflow `webhook` actions), guarded against server-side request forgery. */

export const DELIVERY_TIMEOUT_MS = 30_000;
/** Response bytes kept in the log. */
export const RESPONSE_LIMIT = 64 * 1024;
export const BLOCKED = 'blocked address';

export interface DeliveryRequest {
  url: string;
  method: string;
  /** Resolved header values (templates already substituted). */
  headers: Readonly<Record<string, string>>;
  body: string;
}

export interface DeliveryResult {
  ok: boolean;
  /** HTTP status; 0 when no response was received. */
  status: number;
  /** Up to RESPONSE_LIMIT bytes of the response body. */
  body: string;
  /** '' on success, else the network error text or "HTTP <status>". */
  error: string;
  /** The target was refused by the private-network rule (never retried). */
  blocked: boolean;
  /** Cancelled by `signal` (server shutdown): the outcome is unknown and must not be recorded. */
  cancelled: boolean;
}

export interface DeliveryOptions {
  denyPrivateNetworks: boolean;
  /** Aborts the call (server shutdown). */
  signal?: AbortSignal;
  timeoutMs?: number;
}

class BlockedAddressError extends Error {}

/**
 * DNS lookup that refuses names resolving to a refused address; the connection
 * uses exactly the checked addresses, so a second resolution cannot swap them.
 */
const guardedLookup = (denyPrivateNetworks: boolean) =>
  ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err);
      if (addresses.length === 0) return callback(new Error(`getaddrinfo ENOTFOUND ${hostname}`));
      for (const a of addresses) {
        const why = addressRefusal(a.address, denyPrivateNetworks);
        if (why) return callback(new BlockedAddressError(BLOCKED));
      }
      if (options.all) return callback(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  }) as unknown as LookupFunction;
const GUARDED = { deny: guardedLookup(true), allow: guardedLookup(false) };

function errorText(err: unknown): string {
  if (err instanceof AggregateError && !err.message) {
    const inner = err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).filter(Boolean);
    if (inner.length) return inner.join('; ');
  }
  if (err instanceof Error) return err.message || (err as NodeJS.ErrnoException).code || err.name;
  return String(err);
}

const failure = (error: string, extra: Partial<DeliveryResult> = {}): DeliveryResult => ({
  ok: false,
  status: 0,
  body: '',
  error,
  blocked: false,
  cancelled: false,
  ...extra,
});

/** Request headers: `Content-Type: application/json`, then the configured ones (which may override it). */
function requestHeaders(configured: Readonly<Record<string, string>>, body: string): Record<string, string> {
  const out: Record<string, string> = { 'content-type': 'application/json' };
  for (const [name, value] of Object.entries(configured)) {
    const key = name.toLowerCase();
    // The body is ours: its framing headers are too.
    if (key === 'content-length' || key === 'transfer-encoding') continue;
    out[key] = value;
  }
  out['content-length'] = String(Buffer.byteLength(body));
  return out;
}

/** Sends one webhook request; never throws. Redirects are not followed (a 3xx is a failure). */
export function deliver(req: DeliveryRequest, opts: DeliveryOptions): Promise<DeliveryResult> {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    return Promise.resolve(failure('invalid URL'));
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.resolve(failure(`unsupported protocol ${url.protocol}`));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const literal = isIP(host) ? addressRefusal(host, opts.denyPrivateNetworks) : undefined;
  // The log's error is the spec's bare text (webhooks.md §Delivery): which rule refused it is the address's own affair.
  if (literal) return Promise.resolve(failure(BLOCKED, { blocked: true }));

  const timeoutMs = opts.timeoutMs ?? DELIVERY_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;

  return new Promise<DeliveryResult>((resolve) => {
    let status: number | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;

    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      if (opts.signal?.aborted) return resolve(failure('cancelled by server shutdown', { cancelled: true }));
      if (status !== undefined) {
        // A response arrived: its status decides, even if reading the body was cut short.
        const ok = status >= 200 && status < 300;
        const body = Buffer.concat(chunks).toString('utf8').replace(/\0/g, '');
        return resolve({ ok, status, body, error: ok ? '' : `HTTP ${status}`, blocked: false, cancelled: false });
      }
      if (err instanceof BlockedAddressError) return resolve(failure(err.message, { blocked: true }));
      if (timeout.aborted) return resolve(failure(`timeout after ${timeoutMs / 1000} s`));
      resolve(failure(errorText(err)));
    };

    let request: http.ClientRequest;
    try {
      const client = url.protocol === 'https:' ? https : http;
      request = client.request(
        url,
        {
          method: req.method,
          headers: requestHeaders(req.headers, req.body),
          signal,
          agent: false,
          lookup: opts.denyPrivateNetworks ? GUARDED.deny : GUARDED.allow,
        },
        (res) => {
          status = res.statusCode ?? 0;
          res.on('data', (chunk: Buffer) => {
            if (size < RESPONSE_LIMIT) {
              const part = chunk.subarray(0, RESPONSE_LIMIT - size);
              chunks.push(part);
              size += part.length;
            }
            if (size >= RESPONSE_LIMIT) res.destroy();
          });
          res.on('end', () => finish());
          res.on('close', () => finish());
          res.on('error', (err) => finish(err));
        },
      );
    } catch (err) {
      // Invalid header values (e.g. an environment variable with a line break) are refused before sending.
      return finish(err);
    }
    request.on('error', (err) => finish(err));
    // A 101 answer hands the socket over and never ends the request (nor reports an error, nor heeds the
    // abort): without this, the call would hang forever. It is a non-2xx answer like any other.
    request.on('upgrade', (res, socket) => {
      socket.destroy();
      status = res.statusCode ?? 101;
      finish();
    });
    // Whatever else leaves the request detached, the timeout (or shutdown) still ends the call.
    signal.addEventListener('abort', () => finish(), { once: true });
    request.end(req.body);
  });
}

/** Makes outgoing calls under the server's address policy; the composition root hands one to the engine. */
export type CallOut = (req: DeliveryRequest, opts?: Pick<DeliveryOptions, 'signal' | 'timeoutMs'>) => Promise<DeliveryResult>;

export function callOutWith(denyPrivateNetworks: boolean): CallOut {
  return (req, opts) => deliver(req, { denyPrivateNetworks, ...opts });
}

/** Without a configured policy: private networks allowed, the always-forbidden addresses still refused. */
export const DEFAULT_CALL_OUT: CallOut = callOutWith(false);
