// Multimodal evaluations end to end through real Temporal: a generated tiny vision-language model
// over generated image-caption files (PNG and lossless WebP), clean and perturbed. Every sample's
// eRank1–5 and the dataset's imageReductionRatio / imageTextAlignment are checked against an
// independent oracle that starts from the same image files (PIL + numpy + onnxruntime); the LLaVA
// conversation form gives the same numbers as the plain rows it was written from; images and data
// in S3 (MinIO) give the same numbers as on disk; bad input fails with the file and row named.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { TASK_QUEUES } from '../../workflows/taskQueues.ts';
import { evaluationWorkflow, type EvaluationResult } from '../../workflows/evaluation.ts';
import { writeTinyVlm, TINY_VLM_PRESETS } from '../fixtures/tinyVlm.ts';
import { writeImageTextFixtures, type ImageFixtureSet } from '../fixtures/imageFixtures.ts';
import { modelTaps } from '../../src/model/onnxTaps.ts';
import { samplesFromArrow, type SampleRow } from '../../src/arrow/sampleTable.ts';
import { openStore } from '../../src/store/openStore.ts';
import type { EvaluationSpecInput } from '../../src/eval/evaluationSpec.ts';
import { ensureBucket, requireEnv, runCli, runOracle } from '../helpers/services.ts';
import { startTestTemporal, type TestTemporal } from '../helpers/temporal.ts';

const address = requireEnv('TEMPORAL_ADDRESS');
const bucket = requireEnv('ENTROSCOPE_TEST_BUCKET');
const oracleScript = new URL('../oracle/multimodal_eval_oracle.py', import.meta.url).pathname;
const PARTS = ['eRank1', 'eRank2', 'eRank3', 'eRank4', 'eRank5'] as const;
const ROWS = 18;
const MAX_TOKENS = 12;

let temporal: TestTemporal;
let client: Client;
let dir: string;
let modelDir: string;
let fixtures: ImageFixtureSet;
let lastTensor: string;

interface OracleOut {
  perSample: Array<Record<(typeof PARTS)[number], number | null> & { imageReductionRatio: number | null; imageTextAlignment: number | null }>;
  dataset: { samplesUsed: number; meanErank: Record<string, number>; imageReductionRatio: number; imageTextAlignment: number };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-mm-'));
  modelDir = join(dir, 'vlm');
  writeTinyVlm(modelDir, 'vlm-s32');
  fixtures = await writeImageTextFixtures({ dir: join(dir, 'data'), count: ROWS, seed: 11, formats: ['png', 'webp'] });
  // One long caption, so truncation at maxTokens is exercised too.
  const lines = (await readFile(fixtures.jsonl, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { image: string; text: string });
  lines[3].text = Array(8).fill(lines[3].text).join(' and ');
  await writeFile(fixtures.jsonl, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  lastTensor = (await modelTaps(join(modelDir, 'decoder_model.onnx'))).taps.taps.find((t) => t.name === 'last')!.tensor;
  temporal = await startTestTemporal(address);
  client = temporal.client;
});

after(async () => {
  await temporal?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function evaluate(spec: Partial<EvaluationSpecInput>): Promise<EvaluationResult> {
  return client.workflow.execute(evaluationWorkflow, {
    taskQueue: TASK_QUEUES.orchestration,
    workflowId: `test-mm-${randomUUID()}`,
    args: [{ spec: { model: modelDir, data: fixtures.jsonl, shardSize: 7, batchSize: 4, maxTokens: MAX_TOKENS, store: `file://${join(dir, 'store')}`, ...spec } as EvaluationSpecInput }],
  });
}

/** Per-sample part rows of an evaluation, by part, in row order. */
async function partRows(r: EvaluationResult): Promise<Record<string, SampleRow[]>> {
  const store = openStore(r.summary.outputs.prefix);
  const keys = (await store.list('shards/')).filter((k) => k.endsWith('/samples.arrow')).sort();
  const rows: SampleRow[] = [];
  for (const k of keys) rows.push(...samplesFromArrow(await store.get(k), k));
  return Object.fromEntries(PARTS.map((p) => [p, rows.filter((x) => x.layer === p).sort((a, b) => a.row - b.row)]));
}

async function oracle(transform: string): Promise<OracleOut> {
  const rows = (await readFile(fixtures.jsonl, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { image: string; text: string });
  return runOracle<OracleOut>(oracleScript, {
    dir: modelDir,
    tensor: lastTensor,
    maxTokens: MAX_TOKENS,
    rows: rows.map((r) => ({ image: join(fixtures.dir, r.image), text: r.text })),
    transform,
    sigma: 25,
    seed: 0,
  });
}

/** Every message along a Temporal failure's cause chain (workflow → activity → application error). */
function messages(err: unknown): string {
  const out: string[] = [];
  for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) out.push(String(e.message));
  return out.join(' ← ');
}

function close(actual: number | null | undefined, expected: number | null | undefined, what: string, tol = 1e-6): void {
  assert.ok(actual !== null && actual !== undefined && expected !== null && expected !== undefined, `${what}: ${actual} vs ${expected}`);
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs oracle ${expected}`);
}

async function checkAgainstOracle(r: EvaluationResult, transform: string): Promise<void> {
  const want = await oracle(transform);
  const got = await partRows(r);
  for (const p of PARTS) {
    assert.equal(got[p].length, ROWS, `${p}: one row per sample`);
    got[p].forEach((row, i) => close(row.erank, want.perSample[i][p], `${transform} row ${i} ${p}`));
  }
  const a = r.summary.multimodal!.alignment;
  assert.equal(a.samplesUsed, want.dataset.samplesUsed);
  for (const p of PARTS) close(a.meanErank[p].mean, want.dataset.meanErank[p], `${transform} mean ${p}`);
  close(a.imageReductionRatio, want.dataset.imageReductionRatio, `${transform} imageReductionRatio`);
  close(a.imageTextAlignment, want.dataset.imageTextAlignment, `${transform} imageTextAlignment`);
  assert.ok(a.imageReductionRatioCI95 && a.imageReductionRatioCI95.low <= a.imageReductionRatio! && a.imageReductionRatio! <= a.imageReductionRatioCI95.high);
}

describe('multimodal evaluation', () => {
  let clean: EvaluationResult;

  test('clean run: eRank1–5 per sample and the dataset ratios match the oracle from the image files', async () => {
    clean = await evaluate({ layers: ['embeddings', 'last'] });
    const s = clean.summary;
    assert.equal(s.multimodal?.imageTransform, 'none');
    assert.equal(s.dataset.rows, ROWS);
    assert.equal(s.multimodal?.images, ROWS);
    assert.deepEqual(s.layers.map((l) => l.layer), ['embeddings', 'last']);
    // The LLM layers on the image+text sequence are reported as for text, with pooled entropy.
    assert.equal(s.layers[1].dim, TINY_VLM_PRESETS['vlm-s32'].textDim);
    assert.ok(s.layers[1].pooled.pooledErank > 1);
    await checkAgainstOracle(clean, 'none');
    const rows = await partRows(clean);
    assert.ok(rows.eRank1[3].truncated, 'the long caption is truncated');
    assert.equal(s.truncatedSamples, rows.eRank1.filter((r) => r.truncated).length, 'and counted');
  });

  for (const transform of ['rotate90', 'grayscale', 'noise'] as const) {
    test(`--image-transform ${transform}: a separate evaluation that matches the oracle on the perturbed images`, async () => {
      const r = await evaluate({ imageTransform: transform });
      assert.equal(r.summary.multimodal?.imageTransform, transform);
      assert.notEqual(r.summary.outputs.prefix, clean.summary.outputs.prefix);
      await checkAgainstOracle(r, transform);
      // The text alone does not see the image: eRank4 is unchanged; the image parts move.
      const [a, b] = [clean.summary.multimodal!.alignment, r.summary.multimodal!.alignment];
      assert.equal(b.meanErank.eRank4.mean, a.meanErank.eRank4.mean);
      assert.notEqual(b.meanErank.eRank1.mean, a.meanErank.eRank1.mean);
    });
  }

  test('LLaVA detail_23k conversations give the numbers of the plain rows they were written from', async () => {
    const r = await evaluate({ data: fixtures.llavaJson, maxTokens: 64 });
    assert.equal(r.summary.dataset.rows, ROWS);
    // data.jsonl's row 3 was lengthened above: compare with plain rows of the original captions.
    await writeFile(join(fixtures.dir, 'orig.jsonl'), fixtures.fixtures.map((f) => JSON.stringify({ image: f.image, text: f.caption })).join('\n') + '\n');
    const p = await evaluate({ data: join(fixtures.dir, 'orig.jsonl'), maxTokens: 64 });
    const [x, y] = [await partRows(r), await partRows(p)];
    for (const part of PARTS) assert.deepEqual(x[part].map((q) => q.erank), y[part].map((q) => q.erank), part);
  });

  test('images and dataset in S3 give the same numbers as on disk', async () => {
    await ensureBucket(bucket);
    const s3 = new S3Client({ region: process.env.AWS_REGION ?? 'us-east-1', forcePathStyle: true });
    const prefix = `mm-test/${randomUUID()}`;
    try {
      for (const name of await readdir(join(fixtures.dir, 'images'))) {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/images/${name}`, Body: await readFile(join(fixtures.dir, 'images', name)) }));
      }
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/data.jsonl`, Body: await readFile(fixtures.jsonl) }));
    } finally {
      s3.destroy();
    }
    const r = await evaluate({ data: `s3://${bucket}/${prefix}/data.jsonl`, store: `s3://${bucket}/${prefix}/store` });
    const local = await evaluate({});
    const [x, y] = [await partRows(r), await partRows(local)];
    for (const part of PARTS) assert.deepEqual(x[part].map((q) => q.erank), y[part].map((q) => q.erank), part);
    assert.equal(r.summary.multimodal!.alignment.imageTextAlignment, local.summary.multimodal!.alignment.imageTextAlignment);
  });

  test('entroscope run --image-transform prints the perturbed run beside the clean one', async () => {
    const args = ['run', '--model', modelDir, '--data', fixtures.jsonl, '--max-tokens', String(MAX_TOKENS), '--store', join(dir, 'store'), '--temporal', address, '--image-transform', 'rotate180'];
    const json = await runCli([...args, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const r = JSON.parse(json.stdout) as EvaluationResult & { clean: EvaluationResult };
    assert.equal(r.summary.multimodal?.imageTransform, 'rotate180');
    assert.equal(r.clean.summary.multimodal?.imageTransform, 'none');
    const human = await runCli(args);
    assert.equal(human.code, 0, human.stderr);
    const table = human.stdout.slice(human.stdout.indexOf('image-text alignment'));
    assert.match(table, /\nclean\s+18\s/);
    assert.match(table, /\nrotate180\s+18\s/);
  });

  test('a missing image fails the evaluation without retry, naming the dataset row and the file', async () => {
    const bad = join(dir, 'missing.jsonl');
    await writeFile(bad, `{"image": "data/images/0000.png", "text": "a red circle"}\n{"image": "data/images/nope.png", "text": "a blue square"}\n`);
    await assert.rejects(
      evaluate({ data: bad }),
      (err: unknown) => err instanceof WorkflowFailedError && /missing\.jsonl line 2.*nope\.png/s.test(messages(err)),
    );
  });

  test('a truncated image fails with the row and file named, through the CLI', async () => {
    const png = await readFile(join(fixtures.dir, fixtures.fixtures[0].image));
    await writeFile(join(dir, 'truncated.png'), png.subarray(0, Math.floor(png.length / 2)));
    await writeFile(join(dir, 'trunc.jsonl'), `{"image": "data/${fixtures.fixtures[0].image}", "text": "a red circle"}\n{"image": "truncated.png", "text": "a cut picture"}\n`);
    const r = await runCli(['run', '--model', modelDir, '--data', join(dir, 'trunc.jsonl'), '--store', join(dir, 'store'), '--temporal', address]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /trunc\.jsonl line 2.*truncated\.png/s);
  });

  test('--diff-erank on a vision-language model is refused with the reason', async () => {
    await assert.rejects(evaluate({ diffErank: true }), (err: unknown) => /diffErank: not available for vision-language models/.test(messages(err)));
  });

  test('a projector whose width does not match the LLM fails at planning, naming both files and widths', async () => {
    const broken = join(dir, 'vlm-broken');
    writeTinyVlm(broken, { ...TINY_VLM_PRESETS['vlm-s32'], projectorDim: 40 });
    await assert.rejects(evaluate({ model: broken }), (err: unknown) => {
      const msg = messages(err);
      return /projector\.onnx/.test(msg) && /40/.test(msg) && /48/.test(msg);
    });
  });

  test('a sweep over two vision-language models, clean and rotated, reports alignment side by side', async () => {
    writeTinyVlm(join(dir, 'vlm-large'), 'vlm-s64'); // 64×64 input: the 32×32 images are resized (bicubic) first
    const spec = join(dir, 'mm-sweep.yaml');
    await writeFile(
      spec,
      `name: mm-family
store: sweep-store
models:
  - { model: vlm, family: tiny-vlm }
  - { model: vlm-large, family: tiny-vlm }
datasets:
  - { data: data/data.jsonl }
imageTransforms: [none, rotate90]
maxTokens: ${MAX_TOKENS}
shardSize: 9
concurrency: { evaluations: 2, shards: 2 }
`,
    );
    const r = await runCli(['sweep', spec, '--temporal', address, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { evaluations: Array<{ status: string; dataset: string }>; reportUri: string };
    assert.deepEqual(result.evaluations.map((e) => e.status), ['completed', 'completed', 'completed', 'completed']);
    assert.equal(result.evaluations.filter((e) => e.dataset.endsWith('(rotate90)')).length, 2);
    const report = await readFile(new URL(result.reportUri), 'utf8');
    const section = report.slice(report.indexOf('## Image-text alignment'));
    assert.ok(report.includes('## Image-text alignment'), report);
    const rows = section.split('\n').filter((l) => /^\| vlm(-large)? \|/.test(l));
    assert.equal(rows.length, 4, section);
    // Clean first, then the rotated run with its change against the clean one.
    for (const model of ['vlm', 'vlm-large']) {
      const [clean, rotated] = rows.filter((l) => l.startsWith(`| ${model} |`));
      assert.match(clean, /\| none \|/);
      assert.match(rotated, /\| rotate90 \|/);
      const change = Number(rotated.split('|').at(-3)!.trim());
      assert.ok(Number.isFinite(change) && change !== 0, `alignment change of ${model}: ${rotated}`);
    }
    // `entroscope report` on the store has the same section, as HTML too.
    const out = join(dir, 'report-out');
    const rep = await runCli(['report', join(dir, 'sweep-store'), '-o', out, '--format', 'csv']);
    assert.equal(rep.code, 0, rep.stderr);
    const csv = (await readFile(join(out, 'alignment.csv'), 'utf8')).trim().split('\r\n');
    assert.equal(csv.length, 1 + 4);
  });
});

