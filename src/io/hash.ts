// Content hashes for provenance and content-addressed output keys.
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** sha256 of a file, streamed (model files are hundreds of MB). Hex. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Files smaller than this are hashed every time (a tokenizer.json: milliseconds). */
const REMEMBER_FROM_BYTES = 32 * 2 ** 20;

/**
 * sha256File, remembered under `cacheDir/hashes/` by what `stat` says of the file: device, inode,
 * size, and mtime and ctime in nanoseconds. Hashing a 540 MB graph takes ~1.2 s and a 4.7 GB model
 * ~12 s, in every process (and worker thread) that plans or runs it; a file rewritten or touched
 * changes its mtime or ctime and is hashed again — the stat fields git's index and ccache trust.
 */
export async function sha256FileRemembered(path: string, cacheDir: string): Promise<string> {
  const st = statSync(path, { bigint: true });
  if (st.size < BigInt(REMEMBER_FROM_BYTES)) return sha256File(path);
  const key = sha256(JSON.stringify([resolve(path), st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].map(String)));
  const dir = join(cacheDir, 'hashes');
  const file = join(dir, `${key}.sha256`);
  try {
    const known = readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(known)) return known;
  } catch {
    // not remembered yet
  }
  const hex = await sha256File(path);
  // Only if the file did not change while it was read.
  const after = statSync(path, { bigint: true });
  if (after.mtimeNs === st.mtimeNs && after.ctimeNs === st.ctimeNs && after.size === st.size) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(tmp, hex + '\n');
    renameSync(tmp, file);
  }
  return hex;
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of a JSON value with keys sorted, so equal configs hash equally. */
export function sha256Json(value: unknown): string {
  return sha256(canonicalJson(value));
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}
