// Real exports, checked against PyTorch: every model of the zoo (test/zoo/build_zoo.py: seeded tiny
// GPT-2, Llama, Mistral, GPT-NeoX, OPT, Phi-3, BERT and 24 more decoder checkpoints, exported by optimum with and
// without KV cache, fp16 and int8; test/zoo/build_pretrained.py: the real all-MiniLM-L6-v2,
// exported by optimum and as the langchain4j jars ship it, fp32 and int8) is evaluated through the real Temporal workflow at every
// Hugging Face hidden_states index, and compared with the independent oracle (hf_oracle.py:
// transformers on the checkpoint, AutoTokenizer's ids, output_hidden_states, numpy metrics).
// The oracle takes nothing from entroscope: not its token ids, not its tap names.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TASK_QUEUES } from '../../workflows/taskQueues.ts';
import { evaluationWorkflow, type EvaluationResult } from '../../workflows/evaluation.ts';
import { openStore } from '../../src/store/openStore.ts';
import { samplesFromArrow, type SampleRow } from '../../src/arrow/sampleTable.ts';
import { TextTokenizer } from '../../src/model/tokenizer.ts';
import { cacheDir, hfPythonBin, requireEnv, runOracle } from '../helpers/services.ts';
import { startTestTemporal, type TestTemporal } from '../helpers/temporal.ts';

const address = requireEnv('TEMPORAL_ADDRESS');
const oracleScript = new URL('../oracle/hf_oracle.py', import.meta.url).pathname;
const zooFile = join(cacheDir, 'zoo', 'zoo.json');
if (!existsSync(zooFile)) throw new Error(`${zooFile} is missing: run infra/build-zoo.sh (npm test does)`);
interface ZooEntry {
  arch: string;
  form: string;
  hf: string;
  onnx: string;
}
const pretrainedFile = join(cacheDir, 'zoo', 'pretrained.json');
if (!existsSync(pretrainedFile)) throw new Error(`${pretrainedFile} is missing: run infra/build-zoo.sh (npm test does)`);
const entriesOf = (file: string) => (JSON.parse(readFileSync(file, 'utf8')) as { entries: ZooEntry[] }).entries;
const zoo = [...entriesOf(zooFile).filter((e) => e.arch !== 'smollm2'), ...entriesOf(pretrainedFile)];
const METRICS = ['entropy', 'erank', 'normalizedEntropy', 'renyi2', 'nuclearNorm'] as const;
const MAX_TOKENS = 40;
/**
 * Relative bounds against PyTorch float32. fp32 exports: 1e-5 (the issue's bound). fp16 exports
 * round every activation to 11 bits; int8 (dynamic quantisation of weights and activations)
 * perturbs hidden states by a few per cent, so only the metrics' agreement within these bounds
 * is claimed for them; their token ids are exact.
 */
const TOLERANCE: Record<string, number> = { fp16: 2e-2, int8: 1e-1, 'langchain4j-int8': 1e-1 };
const tolerance = (form: string) => TOLERANCE[form] ?? 1e-5;

interface OracleLayer {
  skipped: boolean;
  entropy?: number;
  erank?: number;
  normalizedEntropy?: number;
  renyi2?: number;
  nuclearNorm?: number;
}
interface OracleOut {
  numLayers: number;
  postNorm: boolean;
  perSample: Array<{ ids: number[]; loss: number | null; layers: Record<string, OracleLayer> }>;
}

let temporal: TestTemporal;
let dir: string;
let dataPath: string;
let texts: string[];

/** Entroscope's name for hidden_states[i], as DESIGN §1.10 defines the numbering. */
function expectedName(i: number, layers: number, postNorm: boolean): string {
  if (i === 0) return 'embeddings';
  if (i < layers) return `block.${i - 1}`;
  return postNorm ? `block.${layers - 1}` : 'final';
}

function relClose(actual: number | null | undefined, expected: number | null | undefined, tol: number, what: string): void {
  assert.ok(actual != null && expected != null, `${what}: ${actual} vs oracle ${expected}`);
  const err = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-12);
  assert.ok(err <= tol, `${what}: ${actual} vs oracle ${expected} (relative error ${err.toExponential(2)} > ${tol})`);
}

async function sampleRows(r: EvaluationResult): Promise<SampleRow[]> {
  const store = openStore(r.storeUri);
  const keys = (await store.list(`${r.prefix}/shards/`)).filter((k) => k.endsWith('samples.arrow'));
  const rows: SampleRow[] = [];
  for (const k of keys) rows.push(...samplesFromArrow(await store.get(k), k));
  return rows;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-zoo-'));
  const demo = (await readFile(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8')).trim().split('\n');
  texts = [
    ...demo.slice(0, 9).map((l) => (JSON.parse(l) as { text: string }).text),
    '',
    'x',
    'Hello, world!  Tabs\tand   spaces, UTF-8: naïve café — “quotes”.',
  ];
  dataPath = join(dir, 'texts.jsonl');
  await writeFile(dataPath, texts.map((text) => JSON.stringify({ text })).join('\n') + '\n');
  temporal = await startTestTemporal(address);
});

after(async () => {
  await temporal?.close();
});

describe('optimum exports of every zoo architecture against PyTorch', () => {
  for (const entry of zoo) {
    test(`${entry.arch}/${entry.form}: token ids equal AutoTokenizer's; every hidden_states index (with and without the loss) and the loss match PyTorch (≤ ${tolerance(entry.form)})`, async () => {
      const oracle = await runOracle<OracleOut>(oracleScript, { hf: entry.hf, texts, maxTokens: MAX_TOKENS }, hfPythonBin);
      const { ids } = await TextTokenizer.load(join(entry.onnx, 'tokenizer.json'), MAX_TOKENS).encode(texts);
      assert.deepEqual(ids, oracle.perSample.map((s) => s.ids), 'token ids');

      const L = oracle.numLayers;
      const indices = Array.from({ length: L + 1 }, (_, i) => String(i));
      const evaluate = async (loss: boolean) =>
        sampleRows(
          await temporal.client.workflow.execute(evaluationWorkflow, {
            taskQueue: TASK_QUEUES.orchestration,
            workflowId: `zoo-${entry.arch}-${entry.form}-${loss ? 'loss' : 'no-loss'}-${Date.now()}`,
            args: [{ spec: { model: entry.onnx, data: dataPath, layers: indices, maxTokens: MAX_TOKENS, shardSize: 6, loss, store: `file://${join(dir, 'store')}` } }],
          }),
        );
      const tol = tolerance(entry.form);
      const checkLayers = (rows: SampleRow[], what: string) => {
        for (let i = 0; i <= L; i++) {
          const name = expectedName(i, L, oracle.postNorm);
          const layerRows = rows.filter((x) => x.layer === name).sort((a, b) => a.row - b.row);
          assert.equal(layerRows.length, texts.length, `${what}: hidden_states[${i}] (${name}): one row per text; layers seen: ${[...new Set(rows.map((x) => x.layer))].join(', ')}`);
          for (const row of layerRows) {
            const o = oracle.perSample[row.row];
            assert.equal(row.tokens, o.ids.length, `row ${row.row} tokens`);
            const ol = o.layers[String(i)];
            assert.equal(row.skipped, ol.skipped, `row ${row.row} hidden_states[${i}] skipped`);
            if (ol.skipped) continue;
            for (const m of METRICS) relClose(row[m], ol[m], tol, `${entry.arch}/${entry.form} ${what} row ${row.row} hidden_states[${i}] (${name}) ${m}`);
          }
        }
      };
      const rows = await evaluate(true);
      checkLayers(rows, 'with the loss');
      if (oracle.postNorm) return;
      const lossRows = rows.filter((x) => x.layer === 'embeddings').sort((a, b) => a.row - b.row);
      for (const row of lossRows) {
        const expected = oracle.perSample[row.row].loss;
        if (expected === null) assert.equal(row.loss ?? null, null, `row ${row.row} loss`);
        else relClose(row.loss, expected, tol, `${entry.arch}/${entry.form} row ${row.row} loss`);
      }
      // Without the loss the tapped graph is cut to the nodes the hidden states need (no lm_head,
      // src/model/pruneGraph.ts): every index still matches PyTorch.
      if (oracle.perSample.some((o) => o.loss !== null)) {
        const noLoss = await evaluate(false);
        checkLayers(noLoss, 'without the loss');
        assert.ok(noLoss.every((x) => x.loss == null), 'no loss rows without the loss');
      }
    });
  }
});
