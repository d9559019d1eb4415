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
/** `; name=value` parameters (RFC 9110 §8.3.1), printable ASCII only so a header can carry them back. */
const PARAMETERS_RE = new RegExp(`^(?: *; *${TOKEN}=(?:${TOKEN}|"(?:[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]|\\\\[\\x20-\\x7e])*"))* *$`);

/**
 * The part's own Content-Type (spec: files.md), parameters included (`text/plain; charset=utf-8`), with
 * type and subtype lower-cased. Parameters that do not parse are dropped (the declared type is still
 * clear); without a plain `type/subtype` (or absent) it is application/octet-stream.
 */
export function normalizeMimeType(raw: string | undefined): string {
  const text = (raw ?? '').trim();
  const cut = text.indexOf(';');
  const type = (cut < 0 ? text : text.slice(0, cut)).trim().toLowerCase();
  if (!MIME_RE.test(type)) return 'application/octet-stream';
  const parameters = cut < 0 ? '' : text.slice(cut);
  return parameters !== '' && PARAMETERS_RE.test(parameters) ? `${type}${parameters}` : type;
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
