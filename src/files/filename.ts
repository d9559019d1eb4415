/** File names and MIME types as they come from clients, made safe to store and to send back. */

const MAX_NAME_BYTES = 255;

/** Cuts a string to at most `max` UTF-8 bytes without splitting a character. */
function cutBytes(text: string, max: number): string {
  if (Buffer.byteLength(text, 'utf8') <= max) return text;
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > max) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/**
 * The stored name of an upload (spec: files.md §Upload details): base name only;
 * control characters and quotes removed; empty, `.` or `..` → `file`; at most 255 bytes.
 */
export function sanitizeFilename(raw: string | undefined): string {
  let name = raw ?? '';
  const lastSep = Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\'));
  if (lastSep >= 0) name = name.slice(lastSep + 1);
  // \p{Cc}: C0 controls, DEL and C1 controls; lone surrogates cannot be written as UTF-8 either.
  name = name.replace(/[\p{Cc}"'/\\]|\p{Cs}/gu, '');
  if (name === '' || name === '.' || name === '..') return 'file';
  name = cutBytes(name, MAX_NAME_BYTES);
  return name === '.' || name === '..' ? 'file' : name;
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MIME_RE = new RegExp(`^${TOKEN}/${TOKEN}$`);

/** The part's declared type when it is a plain `type/subtype`; otherwise (or absent) application/octet-stream. */
export function normalizeMimeType(raw: string | undefined): string {
  const type = (raw ?? '').trim().toLowerCase();
  return MIME_RE.test(type) ? type : 'application/octet-stream';
}

/** A stored type as a response header: as stored when a header can carry it, else application/octet-stream. */
export function servedMimeType(stored: string): string {
  return /^[\x21-\x7e][\x20-\x7e]*$/.test(stored) ? stored : 'application/octet-stream';
}

/**
 * `inline; filename="<name>"` with `\` and `"` escaped. Names that are not
 * printable ASCII (which a header cannot carry as-is) get an ASCII fallback in
 * `filename` and the exact name in `filename*` (RFC 6266 / RFC 8187).
 */
export function contentDisposition(filename: string): string {
  const quoted = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  if (/^[\x20-\x7e]*$/.test(filename)) return `inline; filename=${quoted(filename)}`;
  const fallback = filename.replace(/[^\x20-\x7e]/gu, '_');
  const encoded = encodeURIComponent(filename.replace(/\p{Cs}/gu, '\ufffd')).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `inline; filename=${quoted(fallback)}; filename*=UTF-8''${encoded}`;
}
