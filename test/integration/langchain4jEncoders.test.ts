// Layer discovery on the ONNX encoders the Maven dev.langchain4j embeddings jars carry (exported by
// their publishers, not by us): bge-small-en-v1.5 and e5-small-v2. Both are 12-block post-norm
// BERT encoders of width 384 (their published configs: num_hidden_layers 12, hidden_size 384), so
// `entroscope layers` must offer Hugging Face indices 0…12 — the embeddings, then each block's
// output after its final LayerNorm, the last one being last_hidden_state. (all-MiniLM-L6-v2's jar
// is checked value by value against transformers in zoo.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { modelDir, runCli } from '../helpers/services.ts';

const PUBLISHED = { blocks: 12, hiddenSize: 384 };

for (const name of ['bge-small-en-v15', 'e5-small-v2']) {
  test(`${name} (langchain4j jar): layers finds the embeddings and all ${PUBLISHED.blocks} blocks at HF indices 0…${PUBLISHED.blocks}, width ${PUBLISHED.hiddenSize}`, async () => {
    const onnx = join(modelDir(name), 'model.onnx');
    if (!existsSync(onnx)) throw new Error(`${onnx} is missing: run infra/install.sh (npm test does)`);
    const r = await runCli(['layers', modelDir(name), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { blocks: number; layout: string; layers: Array<{ name: string; hfIndex?: number | null; shape: Array<string | number> }> };
    assert.equal(out.blocks, PUBLISHED.blocks);
    assert.equal(out.layout, 'post-norm');
    const indexed = out.layers.filter((l) => typeof l.hfIndex === 'number').sort((a, b) => a.hfIndex! - b.hfIndex!);
    assert.deepEqual(indexed.map((l) => l.hfIndex), Array.from({ length: PUBLISHED.blocks + 1 }, (_, i) => i));
    assert.deepEqual(indexed.map((l) => l.name), ['embeddings', ...Array.from({ length: PUBLISHED.blocks }, (_, i) => `block.${i}`)]);
    for (const l of indexed) assert.equal(l.shape.at(-1), PUBLISHED.hiddenSize, `${l.name} width`);

    // `--layers 12` (the HF index users pass to run) resolves to the last block.
    const run = await runCli(['layers', modelDir(name), '--layers', String(PUBLISHED.blocks), '--json']);
    assert.equal(run.code, 0, run.stderr);
    const picked = JSON.parse(run.stdout) as { layers: Array<{ name: string }> };
    assert.deepEqual(picked.layers.map((l) => l.name), [`block.${PUBLISHED.blocks - 1}`]);
  });
}
