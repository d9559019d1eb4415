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
}

async function send(method: string, path: string, opts: Options): Promise<Response> {
  const headers: Record<string, string> = {};
  const s = getSession();
  if (s && !opts.anonymous) headers.authorization = `Bearer ${s.access}`;
  let body: BodyInit | undefined;
  if (opts.form) body = opts.form;
  else if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  return fetch(path, { method, headers, body });
}

/** One request to the public API; retried once after a refresh when the access token was refused. */
export async function request<T = unknown>(method: string, path: string, opts: Options = {}): Promise<T> {
  let res: Response;
  try {
    res = await send(method, path, opts);
    if (res.status === 401 && !opts.anonymous && getSession()) {
      if (await refreshSession()) res = await send(method, path, opts);
      else {
        expire();
        throw new ApiError(401, 'UNAUTHORIZED', 'Your session has expired; please sign in again.');
      }
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(0, 'NETWORK', 'The server could not be reached.');
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string; details?: Detail[] } } | undefined)?.error;
    throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? `Request failed (${res.status})`, e?.details ?? []);
  }
  return json as T;
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

/** Uploads one file through `/_files/upload`, reporting progress (0..1). */
export function upload(
  app: string,
  file: File,
  onProgress: (fraction: number) => void,
): Promise<{ id: string; filename: string; size: number; mime_type: string; url: string }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${appBase(app)}/_files/upload`);
    const s = getSession();
    if (s) xhr.setRequestHeader('authorization', `Bearer ${s.access}`);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'The upload failed: the server could not be reached.'));
    xhr.onload = () => {
      let json: { data?: never; error?: { code: string; message: string; details?: Detail[] } } = {};
      try {
        json = JSON.parse(xhr.responseText);
      } catch {
        /* non-JSON answer: handled below */
      }
      if (xhr.status >= 200 && xhr.status < 300 && json.data) resolve(json.data);
      else reject(new ApiError(xhr.status, json.error?.code ?? 'HTTP', json.error?.message ?? 'Upload failed', json.error?.details));
    };
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
