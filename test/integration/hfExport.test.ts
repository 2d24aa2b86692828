// Users have Hugging Face folders, not ONNX: `entroscope export` runs optimum in the project's Python
// environment and records where the model came from; `run --model HF_DIR` exports once into the cache
// and evaluates that, with results checked against PyTorch on the checkpoint (hf_oracle.py).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { openStore } from '../../src/store/openStore.ts';
import { samplesFromArrow, type SampleRow } from '../../src/arrow/sampleTable.ts';
import { cacheDir, hfPythonBin, runCli, runOracle } from '../helpers/services.ts';

const hf = join(cacheDir, 'zoo', 'gpt2', 'hf');
if (!existsSync(hf)) throw new Error(`${hf} is missing: run infra/build-zoo.sh (npm test does)`);
const oracleScript = new URL('../oracle/hf_oracle.py', import.meta.url).pathname;
const TEXTS = ['The jury said it did find that many of the voters were confused.', 'hello world', 'x', 'Once more, with feeling: a longer sentence here.'];

let dir: string;
let env: NodeJS.ProcessEnv;

/** sha256 over a folder's files as `name:sha256` lines, sorted: computed here, not by entroscope. */
function folderHash(path: string): string {
  const lines = readdirSync(path)
    .sort()
    .map((f) => `${f}:${createHash('sha256').update(readFileSync(join(path, f))).digest('hex')}`);
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-export-'));
  // A private cache (the export lands there), the shared Python environment.
  env = { ...process.env, ENTROSCOPE_CACHE: join(dir, 'cache'), ENTROSCOPE_HF_VENV: join(cacheDir, 'hf-venv') };
  delete env.TEMPORAL_ADDRESS;
});

describe('Hugging Face checkpoints in, through optimum', () => {
  test('`entroscope export HF_DIR -o OUT --json`: an ONNX folder with the checkpoint hash and versions; its layers are found', async () => {
    const out = join(dir, 'gpt2-onnx');
    const res = await runCli(['export', hf, '-o', out, '--json'], env, 600_000);
    assert.equal(res.code, 0, res.stderr);
    const info = JSON.parse(res.stdout) as { sourceSha256: string; task: string; versions: Record<string, string> };
    assert.equal(info.sourceSha256, folderHash(hf));
    assert.equal(info.task, 'text-generation-with-past');
    assert.match(info.versions.transformers, /^\d+\.\d+/);
    assert.match(info.versions['optimum-onnx'], /^\d+\.\d+/);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'entroscope-export.json'), 'utf8')).sourceSha256, info.sourceSha256);
    const layers = await runCli(['layers', out, '--json'], env);
    assert.equal(layers.code, 0, layers.stderr);
    const listed = JSON.parse(layers.stdout) as { blocks: number; layers: Array<{ name: string; hfIndex: number | null }> };
    assert.equal(listed.blocks, 3);
    assert.deepEqual(listed.layers.filter((l) => l.hfIndex !== null).map((l) => [l.name, l.hfIndex]), [['embeddings', 0], ['block.0', 1], ['block.1', 2], ['final', 3]]);
  });

  test('`run --model HF_DIR` exports once into the cache and its hidden_states[3] match PyTorch to 1e-5', async () => {
    // The user's cache (the embedded Temporal CLI lives there), without an earlier export of this checkpoint.
    const runEnv: NodeJS.ProcessEnv = { ...env, ENTROSCOPE_CACHE: cacheDir };
    const exportedDir = join(cacheDir, 'exported', folderHash(hf).slice(0, 32));
    rmSync(exportedDir, { recursive: true, force: true });
    const data = join(dir, 'texts.jsonl');
    await writeFile(data, TEXTS.map((text) => JSON.stringify({ text })).join('\n') + '\n');
    const res = await runCli(['run', '--model', hf, '--data', data, '--layers', '3', '--state-dir', join(dir, 'state'), '--store', `file://${join(dir, 'store')}`, '--json'], runEnv, 900_000);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /exporting/);
    assert.ok(existsSync(join(exportedDir, 'entroscope-export.json')), `exported into ${exportedDir}`);
    const result = JSON.parse(res.stdout) as { storeUri: string; prefix: string };
    const store = openStore(result.storeUri);
    const rows: SampleRow[] = [];
    for (const k of (await store.list(`${result.prefix}/shards/`)).filter((k) => k.endsWith('samples.arrow'))) rows.push(...samplesFromArrow(await store.get(k), k));
    const oracle = await runOracle<{ perSample: Array<{ ids: number[]; layers: Record<string, { skipped: boolean; entropy?: number }> }> }>(
      oracleScript,
      { hf, texts: TEXTS, maxTokens: 128 },
      hfPythonBin,
    );
    assert.equal(rows.length, TEXTS.length);
    for (const row of rows) {
      assert.equal(row.layer, 'final');
      const o = oracle.perSample[row.row];
      assert.equal(row.tokens, o.ids.length);
      const e = o.layers['3'];
      assert.equal(row.skipped, e.skipped);
      if (!e.skipped) assert.ok(Math.abs(row.entropy! - e.entropy!) <= 1e-5 * Math.abs(e.entropy!), `row ${row.row}: ${row.entropy} vs ${e.entropy}`);
    }
    // A second run finds the export and does not export again.
    const again = await runCli(['run', '--model', hf, '--data', data, '--layers', '3', '--state-dir', join(dir, 'state'), '--store', `file://${join(dir, 'store')}`, '--json'], runEnv, 900_000);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /exporting/);
  });
});
