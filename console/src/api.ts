import { expire, getSession, refreshSession } from './session';

export interface Detail {
  field?: string;
  rule?: string;
  message: string;
}

/** An answer in the API's error envelope (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Detail[] = [],
  ) {
    super(message);
  }
}

export interface ListMeta {
  page: number;
  per_page: number;
  total?: number;
  next_cursor?: string | null;
}

interface Options {
  body?: unknown;
  /** Sent as is (multipart uploads). */
  form?: FormData;
  /** Do not attach the session's token (login screens). */
  anonymous?: boolean;
  /** Integers beyond ±2^53 in the answer become {@link BigNumber}s instead of digit strings. */
  lossless?: boolean;
}

async function send(method: string, path: string, opts: Options): Promise<Response> {
  const headers: Record<string, string> = {};
  const s = getSession();
  if (s && !opts.anonymous) headers.authorization = `Bearer ${s.access}`;
  let body: BodyInit | undefined;
  if (opts.form) body = opts.form;
  else if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = stringifyJson(opts.body);
  }
  return fetch(path, { method, headers, body });
}

/** Sends once more after a refresh when the session's access token was refused; signs out when it cannot be refreshed. */
async function refreshedOn401<R extends { status: number }>(sendOnce: () => Promise<R>, anonymous = false): Promise<R> {
  const res = await sendOnce();
  if (res.status !== 401 || anonymous || !getSession()) return res;
  if (await refreshSession()) return sendOnce();
  expire();
  throw new ApiError(401, 'UNAUTHORIZED', 'Your session has expired; please sign in again.');
}

/** Sends with the session's token; once more after a refresh when the access token was refused. */
async function authorized(method: string, path: string, opts: Options): Promise<Response> {
  try {
    return await refreshedOn401(() => send(method, path, opts), opts.anonymous);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(0, 'NETWORK', 'The server could not be reached.');
  }
}

async function failure(res: Response): Promise<ApiError> {
  let json: { error?: { code?: string; message?: string; details?: Detail[] } } | undefined;
  try {
    json = parseJson(await res.text()) as typeof json;
  } catch {
    json = undefined;
  }
  const e = json?.error;
  return new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? `Request failed (${res.status})`, e?.details ?? []);
}

/** One request to the public API; retried once after a refresh when the access token was refused. */
export async function request<T = unknown>(method: string, path: string, opts: Options = {}): Promise<T> {
  const res = await authorized(method, path, opts);
  if (!res.ok) throw await failure(res);
  const text = await res.text();
  try {
    return (text ? parseJson(text, opts.lossless) : undefined) as T;
  } catch {
    return undefined as T;
  }
}

/**
 * A number a double cannot hold (an integer beyond ±2^53, a decimal of more than ~16 significant
 * digits) that must stay a JSON number: inside a `json` field a digit string would change the value's
 * type on the next save (jsonb_typeof number → string).
 */
export class BigNumber {
  constructor(readonly digits: string) {}
  toString(): string {
    return this.digits;
  }
}

// Stands in for a BigNumber inside a JSON text while JSON.parse / JSON.stringify handle it. The random
// part keeps a user's own string from ever being taken for one.
const MARK = `\u0000big${Math.random().toString(36).slice(2)}:`;

/**
 * JSON.parse, except that a number a double cannot hold becomes a string of its exact digits (or, when
 * `lossless`, a {@link BigNumber}): the API writes bigint and decimal values (and json numbers) as bare
 * numbers with all their digits, which JSON.parse would round (9007199254740993 → …992,
 * 1234567890123456.78 → …456.8). The API accepts such digit strings back for bigint and decimal
 * fields (rest-api.md, value encoding).
 */
export function parseJson(text: string, lossless = false): unknown {
  // the scan costs a pass over the text: only a number of 16+ digits (a point among them or not) can be such a number
  if (!/\d(?:\.?\d){15}/.test(text)) return JSON.parse(text);
  let out = '';
  let from = 0;
  let marked = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      // skip the string, escapes included
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      continue;
    }
    if (c !== '-' && (c < '0' || c > '9')) continue;
    let end = i + 1;
    while (end < text.length && /[0-9.eE+-]/.test(text[end]!)) end++;
    const token = text.slice(i, end);
    if (!exactAsDouble(token)) {
      out += `${text.slice(from, i)}"${lossless ? JSON.stringify(MARK).slice(1, -1) : ''}${token}"`;
      from = end;
      marked = true;
    }
    i = end - 1;
  }
  const joined = out + text.slice(from);
  if (!lossless || !marked) return JSON.parse(joined);
  return JSON.parse(joined, (_k, v: unknown) => (typeof v === 'string' && v.startsWith(MARK) ? new BigNumber(v.slice(MARK.length)) : v));
}

/** Whether JSON.parse keeps a number token's value: a safe integer, or a decimal a double prints back unchanged. */
export function exactAsDouble(token: string): boolean {
  const n = Number(token);
  if (/^-?\d+$/.test(token)) return Number.isSafeInteger(n);
  return Number.isFinite(n) && significand(String(n)) === significand(token);
}

/** A number's value as "<sign><digits without leading or trailing zeros>e<exponent>", for comparing two spellings. */
function significand(num: string): string {
  const m = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(num);
  if (!m) return num;
  const whole = m[2] ?? '';
  const digits = whole + (m[3] ?? '');
  const lead = /^0*/.exec(digits)![0].length;
  const sig = digits.slice(lead).replace(/0+$/, '');
  return sig ? `${m[1]}${sig}e${Number(m[4] ?? 0) + whole.length - lead}` : '0';
}

/** JSON.stringify that writes each {@link BigNumber} as a bare number with all its digits. */
export function stringifyJson(value: unknown, indent?: number): string {
  const text = JSON.stringify(value, (_k, v: unknown) => (v instanceof BigNumber ? MARK + v.digits : v), indent);
  if (text === undefined || !text.includes(JSON.stringify(MARK).slice(1, -1))) return text;
  const quoted = JSON.stringify(MARK)
    .slice(1, -1)
    .replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
  return text.replace(new RegExp(`"${quoted}(-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)"`, 'g'), '$1');
}

/** Digit strings in place of every {@link BigNumber} in a value, for fields whose type is not json. */
export function plainNumbers(value: unknown): unknown {
  if (value instanceof BigNumber) return value.digits;
  if (Array.isArray(value)) return value.map(plainNumbers);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainNumbers(v)]));
  return value;
}

/**
 * Saves a file the API serves (`/_files/:id`) under its own name. A plain link cannot carry the
 * Bearer token the route needs (it would open a 401 page), so the bytes are fetched with it and
 * handed to the browser as a download of an object URL.
 */
export async function downloadFile(path: string, filename: string): Promise<void> {
  const res = await authorized('GET', path, {});
  if (!res.ok) throw await failure(res);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  // the browser reads the object URL when the click is handled, a moment later
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export const api = {
  get: <T>(path: string) => request<{ data: T; meta?: ListMeta }>('GET', path).then((r) => r.data),
  list: <T>(path: string) => request<{ data: T[]; meta: ListMeta }>('GET', path),
  post: <T>(path: string, body?: unknown) => request<{ data: T }>('POST', path, { body: body ?? {} }).then((r) => r.data),
  put: <T>(path: string, body: unknown) => request<{ data: T }>('PUT', path, { body }).then((r) => r.data),
  del: <T>(path: string) => request<{ data: T }>('DELETE', path).then((r) => r?.data),
};

/** `/api/<app>` for the app in the URL. */
export const appBase = (app: string) => `/api/${encodeURIComponent(app)}`;

interface Uploaded {
  id: string;
  filename: string;
  size: number;
  mime_type: string;
  url: string;
}

/**
 * Uploads one file through `/_files/upload`, reporting progress (0..1). Like every other request it is
 * sent once more after a refresh when the access token was refused (expired while the tab slept).
 */
export async function upload(app: string, file: File, onProgress: (fraction: number) => void): Promise<Uploaded> {
  const res = await refreshedOn401(() => {
    onProgress(0);
    return sendUpload(app, file, onProgress);
  });
  let json: { data?: Uploaded; error?: { code: string; message: string; details?: Detail[] } } = {};
  try {
    json = parseJson(res.text) as typeof json;
  } catch {
    /* non-JSON answer: handled below */
  }
  if (res.status >= 200 && res.status < 300 && json.data) return json.data;
  throw new ApiError(res.status, json.error?.code ?? 'HTTP', json.error?.message ?? 'Upload failed', json.error?.details);
}

/** One multipart POST by XMLHttpRequest (fetch reports no upload progress): its status and body text. */
function sendUpload(app: string, file: File, onProgress: (fraction: number) => void): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${appBase(app)}/_files/upload`);
    const s = getSession();
    if (s) xhr.setRequestHeader('authorization', `Bearer ${s.access}`);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'The upload failed: the server could not be reached.'));
    xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText });
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

/** Query string from a record of parameters; empty values are left out. */
export function qs(params: Record<string, string | number | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}
