import { createWriteStream } from 'node:fs';
import { open, rm, rmdir, unlink } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FileKey, FileStorage, StoredBytes } from './storage.js';
import { makeDirectory } from '../directories.js';

const ignore =
  (...codes: string[]) =>
  (err: unknown) => {
    if (!codes.includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  };

/** One path segment that cannot climb or split: no separators, not `.`/`..`, not empty. */
function segment(value: string, what: string): string {
  if (value === '' || value === '.' || value === '..' || /[/\\\0]/.test(value)) {
    throw new Error(`unsafe ${what} for file storage: ${JSON.stringify(value)}`);
  }
  return value;
}

/** Files on the local disk under one root directory. */
export class LocalDiskStorage implements FileStorage {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  appDir(app: string): string {
    return join(this.root, segment(app, 'app name'));
  }

  /** The per-file directory and the file's path; both provably inside the app's directory. */
  private place(key: FileKey): { dir: string; path: string } {
    const appDir = this.appDir(key.app);
    const dir = join(appDir, segment(key.id, 'file id'));
    const path = join(dir, segment(key.filename, 'file name'));
    if (!path.startsWith(dir + sep) || !dir.startsWith(appDir + sep)) throw new Error('file path escapes the app storage');
    return { dir, path };
  }

  pathOf(key: FileKey): string {
    return this.place(key).path;
  }

  async write(key: FileKey, source: AsyncIterable<Buffer>): Promise<string> {
    const { dir, path } = this.place(key);
    await makeDirectory(dir);
    try {
      await pipeline(source, createWriteStream(path, { flags: 'wx' }));
    } catch (err) {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
    return path;
  }

  async open(key: FileKey): Promise<StoredBytes | undefined> {
    let path: string;
    try {
      path = this.place(key).path;
    } catch {
      return undefined; // a stored name that cannot be a path of ours has no bytes
    }
    const handle = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR' || err.code === 'EISDIR') return undefined;
      throw err;
    });
    if (!handle) return undefined;
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) {
        await handle.close();
        return undefined;
      }
      return { stream: handle.createReadStream(), size: stat.size };
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  async remove(key: FileKey): Promise<void> {
    let place: { dir: string; path: string };
    try {
      place = this.place(key);
    } catch {
      return;
    }
    await unlink(place.path).catch(ignore('ENOENT', 'ENOTDIR'));
    await rmdir(place.dir).catch(ignore('ENOENT', 'ENOTDIR', 'ENOTEMPTY', 'EEXIST'));
  }

  async removeApp(app: string): Promise<void> {
    await rm(this.appDir(app), { recursive: true, force: true });
  }
}
