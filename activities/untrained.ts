// The untrained twin of a model (DESIGN §1.7): the same graph with re-initialised weights from a
// recorded seed, created once per (source model sha256, seed, init rule) and kept in the store,
//
//   <store>/untrained/<source sha256>-seed<seed>-<rule id>/{tokenizer.json, model.onnx}
//
// so every worker fetches it by URI like any model in S3 (a folder store is a shared folder by
// definition). model.onnx is written last: its presence means a complete twin. Only the fetched
// copy lives on a worker's disk.
import { createReadStream, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { userErrorsFinal } from './userErrors.ts';
import { withHeartbeat } from './heartbeat.ts';
import { localModelFiles } from '../src/model/modelFetch.ts';
import { cacheRoot } from '../src/model/onnxTaps.ts';
import { UNTRAIN_RULE, untrainFiles } from '../src/model/untrain.ts';
import { modelIdentity } from '../src/model/externalData.ts';
import { openStore } from '../src/store/openStore.ts';

export interface UntrainedTwin {
  /** The twin's folder (model.onnx + tokenizer.json): an s3:// URI, or a path in a folder store. */
  model: string;
  seed: number;
  /** sha256 of the trained model it was made from. */
  sourceSha256: string;
}

/** `hf-default-init/v1: …` → `hf-default-init-v1`: the rule's name and version, for keys. */
export const UNTRAIN_RULE_ID = UNTRAIN_RULE.slice(0, UNTRAIN_RULE.indexOf(':')).replace(/[^A-Za-z0-9.]+/g, '-');

/** The store key of a twin's folder. */
export function untrainedTwinKey(sourceSha256: string, seed: number): string {
  return `untrained/${sourceSha256}-seed${seed}-${UNTRAIN_RULE_ID}`;
}

export async function prepareUntrainedTwin(input: { model: string; seed: number; store: string }): Promise<UntrainedTwin> {
  return userErrorsFinal(() => withHeartbeat(async () => {
    const files = await localModelFiles(input.model); // an s3:// source is fetched into this worker's cache
    const sourceSha256 = (await modelIdentity(files.onnxPath)).sha256;
    const store = openStore(input.store);
    const key = untrainedTwinKey(sourceSha256, input.seed);
    if (!(await store.exists(`${key}/model.onnx`))) {
      mkdirSync(cacheRoot(), { recursive: true });
      const tmp = await mkdtemp(join(cacheRoot(), '.untrained-'));
      try {
        const made = await untrainFiles(files.onnxPath, tmp, input.seed);
        // Streamed (models are hundreds of MB); the tokenizer first, the graph last.
        if (made.tokenizerPath) await store.putStream(`${key}/tokenizer.json`, createReadStream(made.tokenizerPath));
        if (made.dataPath) await store.putStream(`${key}/${basename(made.dataPath)}`, createReadStream(made.dataPath));
        await store.putStream(`${key}/model.onnx`, createReadStream(made.onnxPath));
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    }
    const uri = store.uriOf(key);
    return { model: uri.startsWith('file://') ? fileURLToPath(uri) : uri, seed: input.seed, sourceSha256 };
  }));
}
