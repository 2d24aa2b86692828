// Hostile input through `entroscope run` on the real Temporal server: a line over the record bound
// fails at once (one attempt, non-retryable) naming the file and line; a huge text is truncated
// while tokenising with the same counts as tokenising it whole; an image outside the dataset's
// folder is refused unless --allow-absolute-images.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from 'tokenizers';
import { writeTinyVlm } from '../../src/model/tinyVlm.ts';
import { writeImageTextFixtures } from '../../src/image/imageFixtures.ts';
import { modelDir, requireEnv, runCli } from '../helpers/services.ts';
import { startTestTemporal, type TestTemporal } from '../helpers/temporal.ts';

const address = requireEnv('TEMPORAL_ADDRESS');
const minilm = modelDir('all-minilm-l6-v2');
let temporal: TestTemporal;
let dir: string;
let brown: string[];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-hostile-'));
  brown = (await readFile(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { text: string }).text);
  temporal = await startTestTemporal(address);
});

after(async () => {
  await temporal?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const run = (args: string[]) => runCli(['run', '--temporal', address, '--store', join(dir, 'store'), ...args]);

test('run: a line over --max-record-bytes fails at once, naming the file and line, with no retry', async () => {
  const data = join(dir, 'long-line.jsonl');
  await writeFile(data, [brown[0], brown[1], 'x'.repeat(5000), brown[2]].map((text) => JSON.stringify({ text })).join('\n') + '\n');
  const r = await run(['--model', minilm, '--data', data, '--max-record-bytes', '2048']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /entroscope: error: .*long-line\.jsonl line 3: record is more than 2048 bytes, over the limit of 2048/);
  const workflowId = /workflow (eval-\S+)/.exec(r.stderr)?.[1];
  assert.ok(workflowId, r.stderr);
  const events = (await temporal.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const started = events.filter((e) => e.activityTaskStartedEventAttributes);
  assert.equal(started.length, 1, 'one activity attempt: planning, not retried');
  assert.equal(started[0].activityTaskStartedEventAttributes!.attempt, 1);
  const failure = events.find((e) => e.activityTaskFailedEventAttributes)?.activityTaskFailedEventAttributes?.failure;
  assert.equal(failure?.applicationFailureInfo?.nonRetryable, true);
  // Under the default bound (16 MiB) the same file is read.
  const ok = await run(['--model', minilm, '--data', data, '--json']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('run: a 2 MB text is truncated while tokenising, with the counts of tokenising it whole', async () => {
  const texts = [brown.join(' ').repeat(2).slice(0, 2_000_000), brown[3], brown[4]];
  const data = join(dir, 'huge-text.jsonl');
  await writeFile(data, texts.map((text) => JSON.stringify({ text })).join('\n') + '\n');
  const r = await run(['--model', minilm, '--data', data, '--max-tokens', '16', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const s = (JSON.parse(r.stdout) as { summary: { tokens: number; truncatedSamples: number; dataset: { rows: number } } }).summary;
  // The reference: Hugging Face tokenizers on each whole text, truncated to 16.
  const tok = Tokenizer.fromFile(join(minilm, 'tokenizer.json'));
  tok.disablePadding();
  tok.setTruncation(16);
  const whole = await tok.encodeBatch(texts);
  assert.equal(s.dataset.rows, 3);
  assert.equal(s.tokens, whole.reduce((a, e) => a + e.getIds().length, 0));
  assert.equal(s.truncatedSamples, whole.filter((e) => e.getOverflowing().length > 0).length);
  assert.ok(s.truncatedSamples >= 1);
});

test('run: an image outside the dataset folder is refused, naming row and image, unless --allow-absolute-images', async () => {
  const vlm = join(dir, 'vlm');
  writeTinyVlm(vlm, 'vlm-s32');
  const set = await writeImageTextFixtures({ dir: join(dir, 'pairs'), count: 3, seed: 3, formats: ['png'] });
  await mkdir(join(dir, 'private'));
  await copyFile(join(set.dir, set.fixtures[2].image), join(dir, 'private', 'secret.png'));
  const data = join(set.dir, 'escaping.jsonl');
  const rows = set.fixtures.map((f, i) => ({ image: i === 2 ? '../private/secret.png' : f.image, text: f.caption }));
  await writeFile(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const refused = await run(['--model', vlm, '--data', data, '--max-tokens', '12']);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /escaping\.jsonl line 3, image "\.\.\/private\/secret\.png": image "\.\.\/private\/secret\.png" is outside .*pairs \(the dataset's folder or --image-root\); give --allow-absolute-images/);
  const allowed = await run(['--model', vlm, '--data', data, '--max-tokens', '12', '--allow-absolute-images', '--json']);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal((JSON.parse(allowed.stdout) as { summary: { dataset: { rows: number } } }).summary.dataset.rows, 3);
});
