import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSweepSpec } from '../../src/sweep/sweepSpec.ts';

const good = `
name: minilm
store: results
models:
  - { model: models/a, family: minilm, params: 22700000 }
datasets:
  - { data: data/demo.jsonl, limit: 100 }
layers: [embeddings, last]
`;

test('a YAML sweep spec gets defaults and paths relative to the spec file', () => {
  const s = parseSweepSpec(good, '/work/specs/sweep.yaml');
  assert.equal(s.store, '/work/specs/results');
  assert.equal(s.models[0].model, '/work/specs/models/a');
  assert.equal(s.datasets[0].data, '/work/specs/data/demo.jsonl');
  assert.deepEqual(s.layers, ['embeddings', 'last']);
  assert.equal(s.shardSize, 64);
  assert.deepEqual(s.concurrency, { evaluations: 2, shards: 8, chunks: 4 });
});

test('JSON works too, and s3:// or absolute paths are kept', () => {
  const s = parseSweepSpec(JSON.stringify({ store: 's3://b/p', models: [{ model: '/m' }], datasets: [{ data: 's3://b/d.jsonl' }] }), 'x.json');
  assert.equal(s.store, 's3://b/p');
  assert.equal(s.models[0].model, '/m');
  assert.equal(s.datasets[0].data, 's3://b/d.jsonl');
});

test('each bad field is named with its path, all at once', () => {
  const bad = `
store: r
models:
  - { family: x }
datasets: []
shardSize: -3
colour: blue
`;
  assert.throws(() => parseSweepSpec(bad, 'bad.yaml'), (err: Error) => {
    assert.match(err.message, /^bad\.yaml: invalid sweep spec/);
    assert.match(err.message, /models\[0\]\.model: /);
    assert.match(err.message, /datasets: give at least one dataset/);
    assert.match(err.message, /shardSize: /);
    assert.match(err.message, /colour/);
    return true;
  });
});

test('broken YAML names the file', () => {
  assert.throws(() => parseSweepSpec('models: [unclosed', 'broken.yaml'), /broken\.yaml: not valid YAML/);
});

test('imageTransforms: one dataset entry per image-text dataset × perturbation, clean first', () => {
  const s = parseSweepSpec(
    `store: r
models: [{ model: vlm }]
datasets:
  - { data: pairs.jsonl, form: llava, imageRoot: imgs }
  - { data: caps.json, format: json, form: ccSbu }
imageTransforms: [none, rotate90, noise]
noiseSigma: 10
`,
    '/s/sweep.yaml',
  );
  assert.deepEqual(
    s.datasets.map((d) => [d.data, d.imageTransform, d.noiseSigma]),
    [
      ['/s/pairs.jsonl', 'none', undefined],
      ['/s/pairs.jsonl', 'rotate90', undefined],
      ['/s/pairs.jsonl', 'noise', 10],
      ['/s/caps.json', 'none', undefined],
      ['/s/caps.json', 'rotate90', undefined],
      ['/s/caps.json', 'noise', 10],
    ],
  );
  assert.equal(s.datasets[0].imageRoot, '/s/imgs', 'imageRoot is relative to the spec file');
  assert.equal(parseSweepSpec(good, '/w/s.yaml').datasets.length, 1, 'no perturbation: datasets as given');
  assert.throws(() => parseSweepSpec(`${good}imageTransforms: [flip]\n`, 'x.yaml'), /imageTransforms\[0\]/);
});

test('unknown keys at any depth are rejected with their path and the key meant', () => {
  const typos = `
store: r
models:
  - { model: a }
  - { model: b, parms: 1000 }
datasets:
  - { data: d.jsonl, sample: { count: 3, sede: 1 }, textfield: body }
shard_size: 8
concurrency: { shard: 4 }
colour: blue
`;
  assert.throws(() => parseSweepSpec(typos, 'typos.yaml'), (err: Error) => {
    const lines = err.message.split('\n').slice(1).map((l) => l.trim()).sort();
    assert.deepEqual(lines, [
      'colour: unknown key (known here: name, store, archive, models, datasets, layers, loss, diffErank, imageTransforms, noiseSigma, untrainSeed, shardSize, batchSize, maxTokens, reduceFanIn, seed, heartbeatSeconds, maxRecordBytes, allowMixedVersions, concurrency)',
      'concurrency.shard: unknown key (did you mean shards?)',
      'datasets[0].sample.sede: unknown key (did you mean seed?)',
      'datasets[0].sample.seed: Invalid input: expected number, received undefined',
      'datasets[0].textfield: unknown key (did you mean textField?)',
      'models[1].parms: unknown key (did you mean params?)',
      'shard_size: unknown key (did you mean shardSize?)',
    ]);
    return true;
  });
});

test('every evaluation setting a sweep can set reaches its evaluations: heartbeat, chunks, record bound, absolute images', () => {
  const s = parseSweepSpec(
    `store: r
models: [{ model: m }]
datasets: [{ data: d.jsonl, allowAbsoluteImages: true }]
heartbeatSeconds: 30
maxRecordBytes: 4096
concurrency: { chunks: 2 }
`,
    '/s/sweep.yaml',
  );
  assert.equal(s.heartbeatSeconds, 30);
  assert.equal(s.maxRecordBytes, 4096);
  assert.deepEqual(s.concurrency, { evaluations: 2, shards: 8, chunks: 2 });
  assert.equal(s.datasets[0].allowAbsoluteImages, true);
});
