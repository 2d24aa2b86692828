// schemas/results.schema.json is what the code writes (generated from the zod schema, never stale),
// and a JSON Schema validator independent of zod (ajv) accepts results.json documents and refuses
// ones that break the lm-evaluation-harness layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { evaluationResults, resultsJsonSchema } from '../../src/report/harnessResults.ts';
import { syntheticLayer } from '../helpers/syntheticResults.ts';
import type { EvaluationSummary } from '../../src/eval/summary.ts';

const published = JSON.parse(await readFile(new URL('../../schemas/results.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;

test('the published results schema is the one the code validates against (run `npm run schema:results` after changing it)', () => {
  assert.deepEqual(published, JSON.parse(JSON.stringify(resultsJsonSchema())));
});

function summary(): EvaluationSummary {
  const layers = [syntheticLayer('embeddings', 20, { ciWidth: 0.1, samples: 10, pooledRows: 300, loss: 3.5 }), syntheticLayer('final', 12, { ciWidth: 0.1, samples: 10, pooledRows: 300, loss: 3.5 })];
  return {
    model: { name: 'm', onnxSha256: 'a'.repeat(64), tokenizerSha256: 'b'.repeat(64), params: 1000 },
    dataset: { name: 'd.jsonl', rows: 12, sha256: 'c'.repeat(64) },
    layer: 'embeddings',
    dim: 64,
    tokens: 300,
    truncatedSamples: 0,
    metrics: layers[0].metrics,
    pooled: layers[0].pooled,
    meanLoss: 3.5,
    layers,
    configSha256: 'e'.repeat(64),
    seed: 0,
    outputs: { prefix: 'file:///s/evaluations/x', run: 'r', summary: 'file:///s/evaluations/x/runs/r/summary.json', gram: 'g', shards: 2 },
    versions: { entroscope: '0.1.0', node: 'v20' },
  };
}

const plan = {
  spec: { model: '/m', data: '/d.jsonl', shardSize: 8, reduceFanIn: 16, seed: 0, diffErank: false, untrainSeed: 0 },
  model: { onnxPath: '/m/model.onnx', tokenizerPath: '/m/tokenizer.json' },
  dataset: { path: '/d.jsonl' },
  maxTokens: 128,
  maxPositions: null,
};

test('ajv accepts an evaluation results.json and refuses one with a non-numeric metric or without results', () => {
  const validate = new Ajv2020({ strict: false }).compile(published);
  const doc = evaluationResults(summary(), plan, [], { gitHash: null, date: 1, softwareVersions: { entroscope: '0.1.0' } });
  assert.ok(validate(doc), JSON.stringify(validate.errors));
  // The harness's keys: the dataset is the task, the layer sits in the filter slot.
  assert.equal(doc.results['d.jsonl']['meanEntropy,final'], Math.log(12));
  assert.equal(doc.results['d.jsonl']['meanEntropy_stderr,final'], 0.01);
  assert.equal(doc.results['d.jsonl']['meanLoss,none'], 3.5);
  assert.deepEqual(doc['n-samples']['d.jsonl'], { original: 12, effective: 10 });
  const bad = structuredClone(doc) as unknown as { results: Record<string, Record<string, unknown>> };
  bad.results['d.jsonl']['meanEntropy,final'] = 'high';
  assert.equal(validate(bad), false);
  const { results: _r, ...noResults } = doc;
  assert.equal(validate(noResults), false);
});
