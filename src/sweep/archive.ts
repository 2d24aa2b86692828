// The archive of a sweep: every result file of its evaluations (per-sample tables, reduced Grams,
// summaries, manifests) and the sweep's own report, fits and manifest, copied under
// `<archive>/<sweepId>/` with the same keys, sha256-checked on the way; the archive's manifest
// (sizes, sums, the exact spec, versions, seeds) is written last. `fetchArchive` brings one back.
import type { ObjectStore } from '../store/store.ts';
import { getJson, putJson } from '../store/store.ts';
import { sha256 } from '../io/hash.ts';
import { InputError } from '../errors.ts';
import { sweepFolder } from './sweepFolder.ts';

export interface ArchivedFile {
  key: string;
  bytes: number;
  sha256: string;
}

export interface ArchiveManifest {
  sweepId: string;
  createdAt: string;
  spec: unknown;
  versions: Record<string, string>;
  files: ArchivedFile[];
}

export const ARCHIVE_MANIFEST = 'manifest.json';

async function copyChecked(from: ObjectStore, to: ObjectStore, key: string, toKey: string): Promise<ArchivedFile> {
  const bytes = await from.get(key);
  await to.put(toKey, bytes);
  return { key, bytes: bytes.length, sha256: sha256(bytes) };
}

/** Copies `keys` from the results store to `<archive>/<sweepId>/<key>`, manifest last. */
export async function archiveSweep(
  results: ObjectStore,
  archive: ObjectStore,
  sweepId: string,
  keys: string[],
  meta: { spec: unknown; versions: Record<string, string>; createdAt: string },
): Promise<string> {
  sweepId = sweepFolder(sweepId);
  const files: ArchivedFile[] = [];
  for (const key of [...new Set(keys)].sort()) files.push(await copyChecked(results, archive, key, `${sweepId}/${key}`));
  const manifest: ArchiveManifest = { sweepId, createdAt: meta.createdAt, spec: meta.spec, versions: meta.versions, files };
  await putJson(archive, `${sweepId}/${ARCHIVE_MANIFEST}`, manifest);
  return archive.uriOf(`${sweepId}/${ARCHIVE_MANIFEST}`);
}

/** Copies an archived sweep into `target`, verifying every file's size and sha256; manifest last. */
export async function fetchArchive(archive: ObjectStore, id: string, target: ObjectStore): Promise<ArchiveManifest> {
  // The real ID (a scheduled run's, with its time) or the folder name it is archived under.
  const sweepId = sweepFolder(id);
  let manifest: ArchiveManifest;
  try {
    manifest = await getJson<ArchiveManifest>(archive, `${sweepId}/${ARCHIVE_MANIFEST}`);
  } catch (err) {
    throw new InputError(`no archived sweep ${sweepId} in ${archive.uri} (${(err as Error).message})`);
  }
  for (const f of manifest.files) {
    const bytes = await archive.get(`${sweepId}/${f.key}`);
    if (bytes.length !== f.bytes || sha256(bytes) !== f.sha256) {
      throw new InputError(`${archive.uriOf(`${sweepId}/${f.key}`)}: size or sha256 differs from the archive manifest; the archive is damaged`);
    }
    await target.put(f.key, bytes);
  }
  await putJson(target, ARCHIVE_MANIFEST, manifest);
  return manifest;
}
