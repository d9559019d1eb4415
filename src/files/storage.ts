import type { Readable } from 'node:stream';

/** Where one uploaded file lives: `<root>/<app>/<id>/<filename>` on the local driver. */
export interface FileKey {
  app: string;
  id: string;
  filename: string;
}

/** An open stored file, ready to be streamed out. */
export interface StoredBytes {
  stream: Readable;
  size: number;
}

/**
 * Byte storage of uploads (spec: files.md §Storage layout). Metadata rows are
 * not its business; it only knows keys and bytes.
 */
export interface FileStorage {
  /** Writes `source` under `key` (the place must be new) and returns the stored path; partial bytes are removed on failure. */
  write(key: FileKey, source: AsyncIterable<Buffer>): Promise<string>;
  /** Opens the bytes of `key`; undefined when they are missing. */
  open(key: FileKey): Promise<StoredBytes | undefined>;
  /** Removes the bytes of `key` (missing bytes are ignored) and its now-empty per-file directory. */
  remove(key: FileKey): Promise<void>;
  /** Removes everything stored for an app. */
  removeApp(app: string): Promise<void>;
}
