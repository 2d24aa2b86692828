// Truncation that matches the model, through `entroscope run`: --max-tokens defaults to the model's
// own positions (as the paper truncates at the model's limit), more is refused at planning with the
// limit named, truncated samples are counted and listed; and an inference failure that will recur
// fails the run at once, naming the sample, with no retry.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EvaluationResult } from '../../workflows/evaluation.ts';
import { openStore } from '../../src/store/openStore.ts';
import { samplesFromArrow, type SampleRow } from '../../src/arrow/sampleTable.ts';
import { modelDir, requireEnv, runCli, runOracle } from '../helpers/services.ts';
import { assertFailedOnceNonRetryable, startTestTemporal, type TestTemporal } from '../helpers/temporal.ts';
import { writeSlicedPositionsModel } from '../helpers/slicedPositionsModel.ts';

const address = requireEnv('TEMPORAL_ADDRESS');
const model = modelDir('all-minilm-l6-v2');
const tokenOracle = new URL('../oracle/hf_token_ids.py', import.meta.url).pathname;
const hiddenOracle = new URL('../oracle/hidden_oracle.py', import.meta.url).pathname;

let temporal: TestTemporal;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-trunc-'));
  temporal = await startTestTemporal(address);
});
after(async () => {
  await temporal?.close();
});

async function writeJsonl(name: string, texts: string[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, texts.map((text) => JSON.stringify({ text })).join('\n') + '\n');
  return path;
}

async function sampleRows(r: EvaluationResult): Promise<SampleRow[]> {
  const store = openStore(r.storeUri);
  const keys = (await store.list(`${r.prefix}/shards/`)).filter((k) => k.endsWith('samples.arrow'));
  const rows: SampleRow[] = [];
  for (const k of keys) rows.push(...samplesFromArrow(await store.get(k), k));
  return rows.sort((a, b) => a.row - b.row);
}

// A Brown-corpus sentence is ~30 tokens; 40 of them in one text is well past MiniLM's 512 positions.
const demo = (await readFile(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text);
const LONG = demo.slice(0, 40).join(' ');
const TEXTS = [demo[50], demo[51], LONG, demo[52], LONG.slice(0, LONG.length / 2)];

describe('truncation at the model\'s limit, through run', () => {
  test('by default a text is cut at the model\'s 512 positions, as HF truncates it, and counted and listed', async () => {
    const data = await writeJsonl('long.jsonl', TEXTS);
    const r = await runCli(['run', '--model', model, '--data', data, '--store', join(dir, 'store'), '--temporal', address, '--shard-size', '3', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as EvaluationResult;
    const s = result.summary;
    const hf = await runOracle<{ ids: number[][]; untruncated: number[] }>(tokenOracle, { tokenizer: join(model, 'tokenizer.json'), texts: TEXTS, maxLength: 512 });
    const longRows = hf.untruncated.flatMap((n, i) => (n > 512 ? [i] : []));
    assert.ok(longRows.length >= 2, `the fixture has texts over 512 tokens (${hf.untruncated.join(', ')})`);
    assert.equal(s.maxTokens, 512);
    assert.equal(s.maxPositions?.positions, 512);
    assert.equal(s.truncatedSamples, longRows.length);
    assert.deepEqual(s.truncatedRows, longRows);
    const rows = await sampleRows(result);
    assert.deepEqual(rows.map((x) => x.tokens), hf.ids.map((ids) => ids.length), 'tokens per sample as HF truncates at 512');
    assert.deepEqual(rows.map((x) => x.truncated), hf.untruncated.map((n) => n > 512));
    // The cut texts' metrics are those of HF's first 512 ids through onnxruntime + numpy.
    const oracle = await runOracle<{ perSample: Array<{ entropy: number }> }>(hiddenOracle, { model: join(model, 'model.onnx'), ids: hf.ids });
    rows.forEach((x, i) => {
      const rel = Math.abs(x.entropy! - oracle.perSample[i].entropy) / oracle.perSample[i].entropy;
      assert.ok(rel < 1e-6, `row ${i} entropy ${x.entropy} vs oracle ${oracle.perSample[i].entropy}`);
    });
    // The table output says it too.
    const table = await runCli(['run', '--model', model, '--data', data, '--store', join(dir, 'store'), '--temporal', address, '--shard-size', '3']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`\\(${longRows.length} truncated at 512\\)`));
    assert.match(table.stdout, new RegExp(`truncated: rows ${longRows.join(', ')}\\n`));
  });

  test('--max-tokens above the model\'s positions is refused at planning, naming the limit and its source; nothing is extracted', async () => {
    const data = await writeJsonl('refused.jsonl', TEXTS);
    const store = join(dir, 'store-refused');
    const t0 = Date.now();
    const r = await runCli(['run', '--model', model, '--data', data, '--store', store, '--temporal', address, '--max-tokens', '1024'], process.env, 120_000);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /--max-tokens\) 1024 is more than model all-minilm-l6-v2 can embed: 512 positions \(rows of embeddings\.position_embeddings\.weight in .*model\.onnx\)/);
    assert.ok(Date.now() - t0 < 60_000, 'fails at once, without retries');
    assert.ok(!existsSync(store) || !(await readdir(store, { recursive: true })).some((f) => String(f).endsWith('done.json')), 'no shard was extracted');
  });
});

describe('an inference failure that will recur', () => {
  test('fails the run on the first attempt with the dataset row named (no retry loop)', async () => {
    // 16 positions the graph does not show: entroscope cannot know the limit, onnxruntime fails.
    const m = writeSlicedPositionsModel(join(dir, 'sliced-model'), 16);
    const long = 'the cat sat on the mat and the dog sat on the cat and the fox';
    const data = await writeJsonl('sliced.jsonl', ['the cat sat', 'the dog', 'a quick brown fox', long, 'hello']);
    const t0 = Date.now();
    const r = await runCli(['run', '--model', m.onnxPath, '--data', data, '--store', join(dir, 'store-sliced'), '--temporal', address, '--shard-size', '5', '--batch-size', '4'], process.env, 120_000);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /onnxruntime failed running .*model\.onnx on dataset row 3 \(\d+ tokens\): .*broadcast/s);
    assert.ok(Date.now() - t0 < 60_000, `failed at once (${Date.now() - t0} ms)`);
    const workflowId = /entroscope: workflow (\S+)/.exec(r.stderr)?.[1];
    assert.ok(workflowId, r.stderr);
    await assertFailedOnceNonRetryable(temporal.client, workflowId);
  });
});
