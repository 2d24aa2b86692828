// A shard is extracted on whichever worker picks it up, from that worker's copy of the model and
// the dataset. Before its results can land under the plan's content hashes, the worker checks that
// what it read is what the planner hashed: the model and tokenizer files, and the shard's texts.
// A mismatch is the user's to fix (another copy at the same path, a file changed since planning),
// so it fails without retry, naming both hashes and the worker.
import { stat } from 'node:fs/promises';
import { InputError } from '../errors.ts';
import { sha256File } from '../io/hash.ts';
import { shardTextsSha256, type DatasetShard } from '../data/dataset.ts';
import { workerIdentity } from './extractionRuntime.ts';
import { modelIdentity } from '../model/externalData.ts';

// Hashing a model costs ~1 s per 300 MB: done once per file version (path, size, mtime) per process.
const fileHashes = new Map<string, Promise<string>>();

async function fileSha256(path: string): Promise<string> {
  const s = await stat(path);
  const key = JSON.stringify([path, s.size, s.mtimeMs, s.ino]);
  let h = fileHashes.get(key);
  if (!h) {
    h = sha256File(path);
    h.catch(() => fileHashes.delete(key));
    fileHashes.set(key, h);
  }
  return h;
}

/** Fails unless the model at `onnxPath` (graph and external data: externalData.ts) has the planned identity. */
export async function checkModelHash(onnxPath: string, expected: string, planned: string): Promise<void> {
  const actual = (await modelIdentity(onnxPath)).sha256;
  if (actual !== expected) {
    throw new InputError(
      `model ${onnxPath} on worker ${workerIdentity()} has sha256 ${actual}, but the plan was made from ${planned} with sha256 ${expected}: ` +
        'every worker must read the same model (use an s3:// URI, or the same copy everywhere)',
    );
  }
}

/** Fails unless the file at `path` hashes to `expected`; `what` and `planned` name it in the message. */
export async function checkFileHash(what: string, path: string, expected: string, planned: string): Promise<void> {
  const actual = await fileSha256(path);
  if (actual !== expected) {
    throw new InputError(
      `${what} ${path} on worker ${workerIdentity()} has sha256 ${actual}, but the plan was made from ${planned} with sha256 ${expected}: ` +
        `every worker must read the same ${what} (use an s3:// URI, or the same copy everywhere)`,
    );
  }
}

/** Fails unless the texts read for `shard` are those the planner hashed. */
export function checkShardTexts(dataset: string, shard: DatasetShard, texts: readonly string[]): void {
  if (shard.sha256 === undefined) return; // plans made before shards were hashed
  const actual = shardTextsSha256(texts);
  if (actual !== shard.sha256) {
    throw new InputError(
      `dataset ${dataset}, shard at row ${shard.startRow} (${shard.rows} rows), read on worker ${workerIdentity()}: ` +
        `its texts hash to sha256 ${actual}, but the plan has sha256 ${shard.sha256} (the dataset changed since planning, or this worker reads another copy)`,
    );
  }
}
