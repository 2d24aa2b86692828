// The untrained twin of a model (DESIGN §1.7): the same graph with re-initialised weights from a
// recorded seed, created once per (model hash, seed) in the worker's cache and reused after.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { userErrorsFinal } from './userErrors.ts';
import { resolveModelFiles } from '../src/model/modelRef.ts';
import { untrainFiles } from '../src/model/untrain.ts';
import { sha256File } from '../src/io/hash.ts';

export interface UntrainedTwin {
  /** Folder with model.onnx + tokenizer.json of the twin. */
  model: string;
  seed: number;
  /** sha256 of the trained model it was made from. */
  sourceSha256: string;
}

export async function prepareUntrainedTwin(input: { model: string; seed: number }): Promise<UntrainedTwin> {
  return userErrorsFinal(async () => {
    const files = resolveModelFiles(input.model);
    const sourceSha256 = await sha256File(files.onnxPath);
    const cache = process.env.ENTROSCOPE_CACHE ?? join(homedir(), '.cache', 'entroscope');
    const dir = join(cache, 'untrained', `${sourceSha256.slice(0, 16)}-seed${input.seed}`);
    // Both files are written atomically, so their presence means a complete twin.
    if (!(existsSync(join(dir, 'model.onnx')) && existsSync(join(dir, 'tokenizer.json')))) {
      await untrainFiles(input.model, dir, input.seed);
    }
    return { model: dir, seed: input.seed, sourceSha256 };
  });
}
