// Sweeps through the real CLI and real Temporal: a family of generated models × datasets, one broken
// model and one malformed dataset among them; the good evaluations complete, the bad ones fail with
// a clear reason in the report; re-running the spec reuses every shard; schedules are real
// Temporal Schedules.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { TINY_PRESETS, writeTinyTransformer } from '../../src/model/tinyTransformer.ts';
import { requireEnv, runCli } from '../helpers/services.ts';
import { scheduledActivities, startTestTemporal, type TestTemporal } from '../helpers/temporal.ts';
import { calendarToCron } from '../../cli/actions/sweep.ts';
import { sha256 } from '../../src/io/hash.ts';
import type { SweepResult } from '../../workflows/sweep.ts';

const address = requireEnv('TEMPORAL_ADDRESS');
let temporal: TestTemporal;
let client: Client;
let dir: string;
let specFile: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-sweep-'));
  writeTinyTransformer(join(dir, 'small'), TINY_PRESETS['causal-d32-l2']);
  writeTinyTransformer(join(dir, 'large'), TINY_PRESETS['causal-d64-l4']);
  await mkdir(join(dir, 'broken'));
  await writeFile(join(dir, 'broken', 'model.onnx'), 'this is not an ONNX file');
  await writeFile(join(dir, 'broken', 'tokenizer.json'), await readFile(join(dir, 'small', 'tokenizer.json')));
  const demo = (await readFile(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8')).trim().split('\n');
  await writeFile(join(dir, 'good.jsonl'), demo.slice(0, 24).join('\n') + '\n');
  await writeFile(join(dir, 'bad.jsonl'), demo.slice(0, 5).join('\n') + '\n{"text": broken}\n');
  specFile = join(dir, 'sweep.yaml');
  await writeFile(
    specFile,
    `name: tiny-family
store: store
archive: archive
models:
  - { model: small, name: small, family: tiny, params: 40000 }
  - { model: large, name: large, family: tiny, params: 220000 }
  - { model: broken, name: broken, family: tiny, params: 1000 }
datasets:
  - { data: good.jsonl }
  - { data: bad.jsonl }
layers: [last]
shardSize: 8
concurrency: { evaluations: 3, shards: 4 }
`,
  );
  temporal = await startTestTemporal(address);
  client = temporal.client;
});

after(async () => {
  await temporal?.close();
});

test('a sweep completes the good evaluations, names why the bad ones failed, and writes report + manifest', async () => {
  const r = await runCli(['sweep', specFile, '--temporal', address, '--json']);
  assert.equal(r.code, 2, `exit code 2 when some evaluations failed; stderr: ${r.stderr}`);
  const result = JSON.parse(r.stdout) as SweepResult;
  assert.equal(result.evaluations.length, 6);
  const byKey = new Map(result.evaluations.map((e) => [`${e.model}|${e.dataset.endsWith('good.jsonl') ? 'good' : 'bad'}`, e]));
  assert.equal(byKey.get('small|good')!.status, 'completed');
  assert.equal(byKey.get('large|good')!.status, 'completed');
  assert.equal(byKey.get('broken|good')!.status, 'failed');
  assert.match(byKey.get('broken|good')!.error!, /broken\/model\.onnx/);
  for (const m of ['small', 'large', 'broken']) {
    const e = byKey.get(`${m}|bad`)!;
    assert.equal(e.status, 'failed');
    if (m !== 'broken') assert.match(e.error!, /bad\.jsonl line 6: not valid JSON/);
  }
  const report = await readFile(new URL(result.reportUri), 'utf8');
  assert.match(report, /## Failed evaluations/);
  // The sweep writes the HTML report too (headline first, figures beside it in the store).
  assert.ok(result.htmlReportUri, 'an HTML report');
  const page = await readFile(new URL(result.htmlReportUri!), 'utf8');
  assert.match(page, /<h1>Sweep sweep-tiny-family-/);
  assert.match(page, /id="headline"/);
  assert.match(report, /## Scaling fits/);
  assert.match(report, /\| small \| tiny \| 40000 \| good\.jsonl \| last \|/);
  const manifest = JSON.parse(await readFile(new URL(result.manifestUri), 'utf8')) as { files: Array<{ key: string; sha256: string }>; spec: { name: string } };
  assert.equal(manifest.spec.name, 'tiny-family');
  assert.equal(manifest.files.filter((f) => f.key.endsWith('summary.json')).length, 2);
  const fits = JSON.parse(await readFile(new URL(result.fitsUri), 'utf8')) as Array<{ family: string; law: { chosen: string | null; reason?: string } }>;
  assert.ok(fits.length > 0 && fits.every((f) => f.family === 'tiny' && f.law.chosen === null && /point/.test(f.law.reason ?? '')), 'two points: too few to fit, said so');

  // The same spec again: same sweep ID, every shard reused.
  const again = await runCli(['sweep', specFile, '--temporal', address, '--json']);
  const second = JSON.parse(again.stdout) as SweepResult;
  assert.equal(second.sweepId, result.sweepId);
  const good = second.evaluations.find((e) => e.model === 'small' && e.dataset.endsWith('good.jsonl'))!;
  assert.equal(await scheduledActivities(client, good.workflowId, 'extractShard'), 0, 'no shard extracted again');
  // Computed and reused shard counts: all computed the first time, none the second.
  const first = result.evaluations.find((e) => e.model === 'small' && e.dataset.endsWith('good.jsonl'))!;
  assert.ok(first.shardsTotal! > 0 && first.shardsComputed === first.shardsTotal, JSON.stringify(first));
  assert.equal(good.shardsComputed, 0);
  assert.equal(good.shardsTotal, first.shardsTotal);
  // The printed table: short model and dataset names, the counts, the HTML report.
  const printed = await runCli(['sweep', specFile, '--temporal', address]);
  assert.equal(printed.code, 2, printed.stderr);
  assert.match(printed.stdout, /\bsmall\s+good\.jsonl\s+0\/\d+\s+completed/);
  assert.match(printed.stdout, /\n0 of \d+ shards computed now, \d+ reused/);
  assert.match(printed.stdout, /report: \S+\/report\/index\.html/);
  // The archive holds every result file with its sum; fetch brings it back, checked.
  assert.ok(result.archiveUri, 'archived');
  const fetched = join(dir, 'fetched');
  const f = await runCli(['fetch', result.sweepId, '--archive', join(dir, 'archive'), '-o', fetched]);
  assert.equal(f.code, 0, f.stderr);
  const archived = JSON.parse(await readFile(join(fetched, 'manifest.json'), 'utf8')) as { files: Array<{ key: string; sha256: string }>; spec: { name: string } };
  assert.equal(archived.spec.name, 'tiny-family');
  assert.ok(archived.files.some((x) => /shards\/.*\/samples\.arrow$/.test(x.key)), 'per-sample tables archived');
  assert.ok(archived.files.some((x) => /gram-last\.arrow$/.test(x.key)), 'reduced Grams archived');
  assert.ok(archived.files.some((x) => x.key.endsWith('report.md')), 'report archived');
  for (const x of archived.files) assert.equal(sha256(await readFile(join(fetched, x.key))), x.sha256, x.key);

  // A report by sweep ID: the spec on Temporal names the store, the sweep's manifest its evaluations.
  const rep = await runCli(['report', result.sweepId, '--temporal', address, '--format', 'md', '-o', join(dir, 'report')]);
  assert.equal(rep.code, 0, rep.stderr);
  assert.match(rep.stdout, /^2 evaluations from /);

  const status = await runCli(['status', result.sweepId, '--watch', '--temporal', address]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /"status": "COMPLETED"/);
  // A finished run's status says where its results are.
  const st = JSON.parse(status.stdout) as { results?: Record<string, string> };
  assert.equal(st.results?.reportUri, result.reportUri);
  assert.equal(st.results?.htmlReportUri, result.htmlReportUri);
  assert.equal(st.results?.manifestUri, result.manifestUri);
});

test('schedules: create, list, pause and delete a recurring sweep', async () => {
  const id = `test-schedule-${Date.now()}`;
  const created = await runCli(['schedule', 'create', specFile, '--cron', '0 3 1 1 *', '--id', id, '--temporal', address]);
  assert.equal(created.code, 0, created.stderr);
  const listed = JSON.parse((await runCli(['schedule', 'list', '--temporal', address])).stdout) as Array<{ id: string; paused: boolean; cron: string[]; next: string[] }>;
  const mine = listed.find((s) => s.id === id);
  assert.ok(mine && !mine.paused);
  // The expression as written, and the next runs (03:00 UTC on 1 January).
  assert.deepEqual(mine.cron, ['0 3 1 1 *']);
  assert.ok(mine.next.length >= 1 && mine.next.every((t) => /-01-01T03:00:00\.000Z$/.test(t)), mine.next.join(', '));
  assert.equal((await runCli(['schedule', 'pause', id, '--temporal', address])).code, 0);
  const desc = await client.schedule.getHandle(id).describe();
  assert.equal(desc.state.paused, true);
  // A schedule made elsewhere (no memo): its calendar, as the server keeps it, reads back as the same expression.
  assert.equal(calendarToCron(desc.spec.calendars![0] as Parameters<typeof calendarToCron>[0]), '0 3 1 1 *');
  assert.equal(desc.action.type, 'startWorkflow');
  assert.equal((await runCli(['schedule', 'delete', id, '--temporal', address])).code, 0);
  await assert.rejects(client.schedule.getHandle(id).describe());
});
