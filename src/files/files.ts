import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Caller } from '../auth/caller.js';
import { RocketError, notFound } from '../errors.js';
import { UUID_RE } from '../types/ids.js';
import type { AdminApp } from '../metadata/admin-app.js';
import { normalizeMimeType, sanitizeFilename } from './filename.js';
import type { FileKey, FileStorage } from './storage.js';

/** File uploads (spec: files.md): bytes through a FileStorage, metadata rows in `_files`. */

export interface FileRow {
  id: string;
  filename: string;
  mime_type: string;
  size: number;
  uploaded_by: string | null;
  created_at: Date;
}

export interface Upload {
  id: string;
  filename: string;
  size: number;
  mime_type: string;
  url: string;
}

/** Bytes written for an upload whose `_files` row does not exist yet. */
export interface StagedFile {
  key: FileKey;
  path: string;
  size: number;
  mimeType: string;
}

export interface IncomingFile {
  filename: string | undefined;
  mimeType: string | undefined;
  stream: AsyncIterable<Buffer>;
}

export interface ServedFile {
  row: FileRow;
  stream: Readable;
  size: number;
}

export const fileTooLarge = (size: number, limit: number) => new RocketError('FILE_TOO_LARGE', `File too large: ${size} bytes (max ${limit})`);

const fileNotFound = (id: string) => notFound(`File ${id} not found`);

const ROW_COLUMNS = 'id, filename, mime_type, size, uploaded_by, created_at';

export class FileService {
  constructor(
    readonly storage: FileStorage,
    /** Largest accepted upload in bytes. */
    readonly maxFileSize: number,
  ) {}

  /**
   * Streams one upload to storage. The limit is enforced while streaming: bytes
   * past it are counted (for the message) but never written, and the partial
   * file is removed before 413 FILE_TOO_LARGE is thrown.
   */
  async stage(app: AdminApp, file: IncomingFile): Promise<StagedFile> {
    const limit = this.maxFileSize;
    const key: FileKey = { app: app.name, id: randomUUID(), filename: sanitizeFilename(file.filename) };
    let size = 0;
    async function* limited(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      for await (const chunk of source) {
        size += chunk.length;
        if (size <= limit) yield chunk;
      }
    }
    const path = await this.storage.write(key, limited(file.stream));
    if (size > limit) {
      await this.storage.remove(key);
      throw fileTooLarge(size, limit);
    }
    return { key, path, size, mimeType: normalizeMimeType(file.mimeType) };
  }

  /** Removes the bytes of an upload that will not be kept. */
  async discard(staged: StagedFile): Promise<void> {
    await this.storage.remove(staged.key);
  }

  /** Records a staged upload in `_files`; if that fails, the stored bytes are removed. */
  async commit(app: AdminApp, caller: Caller, staged: StagedFile): Promise<Upload> {
    const { id, filename } = staged.key;
    try {
      await app.db.query('INSERT INTO _files (id, filename, storage_path, mime_type, size, uploaded_by) VALUES ($1, $2, $3, $4, $5, $6)', [
        id,
        filename,
        staged.path,
        staged.mimeType,
        staged.size,
        UUID_RE.test(caller.id) ? caller.id : null,
      ]);
    } catch (err) {
      await this.discard(staged).catch(() => undefined);
      throw err;
    }
    return { id, filename, size: staged.size, mime_type: staged.mimeType, url: `/api/${app.name}/_files/${id}` };
  }

  async find(app: AdminApp, id: string): Promise<FileRow> {
    const rows = UUID_RE.test(id) ? await app.db.query<FileRow>(`SELECT ${ROW_COLUMNS} FROM _files WHERE id = $1`, [id]) : [];
    if (!rows[0]) throw fileNotFound(id);
    return rows[0];
  }

  /** The row and its bytes; a row whose bytes are gone is a missing file too. */
  async open(app: AdminApp, id: string): Promise<ServedFile> {
    const row = await this.find(app, id);
    const bytes = await this.storage.open({ app: app.name, id: row.id, filename: row.filename });
    if (!bytes) throw fileNotFound(id);
    return { row, ...bytes };
  }

  /** Removes the row, then the bytes and the per-file directory (missing bytes are ignored). */
  async delete(app: AdminApp, id: string): Promise<{ deleted: true }> {
    const rows = UUID_RE.test(id)
      ? await app.db.query<{ id: string; filename: string }>('DELETE FROM _files WHERE id = $1 RETURNING id, filename', [id])
      : [];
    const row = rows[0];
    if (!row) throw fileNotFound(id);
    await this.storage.remove({ app: app.name, id: row.id, filename: row.filename });
    return { deleted: true };
  }

  /** Newest first. */
  async list(app: AdminApp): Promise<FileRow[]> {
    return app.db.query<FileRow>(`SELECT ${ROW_COLUMNS} FROM _files ORDER BY created_at DESC, id DESC`);
  }

  /** Everything stored for an app (its deletion). */
  async removeApp(name: string): Promise<void> {
    await this.storage.removeApp(name);
  }
}
