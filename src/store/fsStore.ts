// A store in a local folder. Writes go to a temp file in the same folder, then rename(2): atomic on
// POSIX file systems, so a crash mid-write never leaves a partial object under its final key.
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, stat, writeFile, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { dirname, join, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { NotFoundError, type ObjectStore } from './store.ts';
import { checkKey } from './storeKey.ts';

export class FsStore implements ObjectStore {
  readonly uri: string;
  constructor(readonly root: string) {
    this.uri = pathToFileURL(root).href;
  }

  private path(key: string): string {
    if (key !== '') checkKey(key); // '' is the root, for list('')
    return join(this.root, ...key.split('/'));
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await writeFile(temp, bytes);
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async putStream(key: string, body: AsyncIterable<Uint8Array>): Promise<void> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await pipeline(body, createWriteStream(temp));
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async getStream(key: string): Promise<AsyncIterable<Uint8Array>> {
    try {
      // Opened here so a missing object fails now, not on the first read.
      const handle = await open(this.path(key), 'r');
      return handle.createReadStream();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(this.uriOf(key));
      throw err;
    }
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(this.uriOf(key));
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.path(key))).isFile();
    } catch {
      return false;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const base = this.path(prefix.replace(/\/+$/, ''));
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if (!e.name.includes('.tmp-')) out.push(relative(this.root, full).split(sep).join('/'));
      }
    };
    await walk(base);
    return out.sort();
  }

  uriOf(key: string): string {
    return pathToFileURL(this.path(key)).href;
  }
}
