// The work of `entroscope run`, loaded only when that command runs (Temporal, ONNX: heavy imports).
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { defaults } from '../defaults.ts';
import { TASK_QUEUES } from '../../workflows/taskQueues.ts';
import { withTemporal } from './temporalSession.ts';
import { parseEvaluationSpec, type EvaluationSpec } from '../../src/eval/evaluationSpec.ts';
import { storeUri } from '../../src/store/openStore.ts';
import { sha256Json } from '../../src/io/hash.ts';
import { chunkProgressQuery, evaluationWorkflow, progressQuery, type EvaluationProgress, type EvaluationResult } from '../../workflows/evaluation.ts';
import { formatTable } from '../format.ts';
import { onnxModelFor } from '../../src/model/hfExport.ts';
import { InputError } from '../../src/errors.ts';

export interface RunOptions {
  model?: string;
  hiddenStates?: string;
  hiddenStatesFormat?: string;
  hiddenStatesLayerIds?: string;
  hiddenStatesBlocks?: string;
  hiddenStatesUntrained?: string;
  data?: string;
  format?: string;
  textField?: string;
  template?: string;
  nonEmpty?: string;
  limit?: string;
  sample?: string;
  sampleSeed: string;
  maxRecordBytes: string;
  layers: string;
  loss: boolean;
  seed: string;
  reduceFanIn: string;
  heartbeatSeconds: string;
  parallelChunks: string;
  allowAbsoluteImages?: boolean;
  diffErank?: boolean;
  untrainSeed: string;
  modelName?: string;
  family?: string;
  params?: string;
  shardSize: string;
  batchSize: string;
  maxTokens?: string;
  store?: string;
  temporal?: string;
  namespace: string;
  parallel: string;
  json?: boolean;
  stateDir: string;
  form?: string;
  imageField?: string;
  imageRoot?: string;
  imageTransform?: string;
  noiseSigma?: string;
  allowMixedVersions?: boolean;
}

/** A run's result; with an image perturbation, also the clean run it is compared with. */
export type RunResult = EvaluationResult & { clean?: EvaluationResult; /** The evaluation's workflow ID, for `status`, `report`, `cancel`, `resume`. */ workflowId?: string };

const localOrUri = (p: string): string => (p.startsWith('s3://') ? p : resolve(p));

export async function run(opts: RunOptions): Promise<RunResult> {
  const stateDir = resolve(opts.stateDir);
  const states = opts.hiddenStates;
  if (states && opts.model) throw new InputError('give --model or --hidden-states, not both');
  if (!states && (opts.hiddenStatesFormat || opts.hiddenStatesLayerIds || opts.hiddenStatesBlocks || opts.hiddenStatesUntrained)) {
    throw new InputError('--hidden-states-format, --hidden-states-layer-ids, --hidden-states-blocks and --hidden-states-untrained go with --hidden-states');
  }
  const spec = parseEvaluationSpec({
    // s3:// locations stay URIs; local paths become absolute, as workers see them.
    // A Hugging Face checkpoint folder is exported once (optimum) into the cache and evaluated from there.
    ...(states
      ? {
          hiddenStates: {
            uri: localOrUri(states),
            format: opts.hiddenStatesFormat,
            layerIds: opts.hiddenStatesLayerIds === undefined ? undefined : opts.hiddenStatesLayerIds.split(',').map((x) => Number(x.trim())),
            blocks: opts.hiddenStatesBlocks === undefined ? undefined : Number(opts.hiddenStatesBlocks),
            untrained: opts.hiddenStatesUntrained === undefined ? undefined : localOrUri(opts.hiddenStatesUntrained),
          },
          // The texts the states were computed from, when given.
          data: opts.data === undefined ? undefined : localOrUri(opts.data),
        }
      : { model: await onnxModelFor(localOrUri(opts.model ?? defaults.model())), data: localOrUri(opts.data ?? defaults.data()) }),
    format: opts.format,
    textField: opts.textField,
    template: opts.template?.replace(/\\n/g, '\n').replace(/\\t/g, '\t'),
    nonEmpty: opts.nonEmpty ? opts.nonEmpty.split(',').map((f) => f.trim()) : undefined,
    limit: opts.limit === undefined ? undefined : Number(opts.limit),
    sample: opts.sample === undefined ? undefined : { count: Number(opts.sample), seed: Number(opts.sampleSeed) },
    maxRecordBytes: Number(opts.maxRecordBytes),
    layers: opts.layers.split(',').map((l) => l.trim()),
    loss: opts.loss,
    seed: Number(opts.seed),
    reduceFanIn: Number(opts.reduceFanIn),
    heartbeatSeconds: Number(opts.heartbeatSeconds),
    maxParallelChunks: Number(opts.parallelChunks),
    allowAbsoluteImages: opts.allowAbsoluteImages === true,
    diffErank: opts.diffErank === true,
    untrainSeed: Number(opts.untrainSeed),
    modelName: opts.modelName,
    family: opts.family,
    params: opts.params === undefined ? undefined : Number(opts.params),
    shardSize: Number(opts.shardSize),
    batchSize: Number(opts.batchSize),
    maxTokens: opts.maxTokens === undefined ? undefined : Number(opts.maxTokens),
    store: storeUri(opts.store ?? resolve(stateDir, 'store')),
    maxParallelShards: Number(opts.parallel),
    form: opts.form,
    imageField: opts.imageField,
    imageRoot: opts.imageRoot === undefined ? undefined : localOrUri(opts.imageRoot),
    imageTransform: opts.imageTransform,
    noiseSigma: opts.noiseSigma === undefined ? undefined : Number(opts.noiseSigma),
    allowMixedVersions: opts.allowMixedVersions === true,
  });
  return withTemporal({ temporal: opts.temporal, namespace: opts.namespace, stateDir, embeddedWorker: true }, async ({ client, workerStopped }) => {
    // A perturbed run is reported beside the clean one (evaluated too, or reused when stored).
    if (spec.imageTransform !== 'none') {
      const clean = await evaluate(client, { ...spec, imageTransform: 'none' }, workerStopped, opts.json === true);
      const perturbed = await evaluate(client, spec, workerStopped, opts.json === true);
      return { ...perturbed, clean };
    }
    return evaluate(client, spec, workerStopped, opts.json === true);
  });
}

/** One evaluation through the workflow, with its progress shown; the same spec attaches to a running one. */
async function evaluate(client: Client, spec: EvaluationSpec, workerStopped: Promise<never> | undefined, quiet: boolean): Promise<EvaluationResult & { workflowId: string }> {
  // Same inputs → same workflow ID: a second `run` while the first is alive attaches to it.
  // The fan-in changes the reduced Grams' bits (summation order), so it is part of the identity.
  const { maxParallelShards: _parallel, batchSize: _batch, allowMixedVersions: _allow, heartbeatSeconds: _beat, ...identity } = spec;
  const workflowId = `eval-${sha256Json(identity).slice(0, 20)}`;
  let handle;
  try {
    handle = await client.workflow.start(evaluationWorkflow, { taskQueue: TASK_QUEUES.orchestration, workflowId, args: [{ spec }] });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    process.stderr.write(`entroscope: attaching to running workflow ${workflowId}\n`);
    handle = client.workflow.getHandle<typeof evaluationWorkflow>(workflowId);
  }
  process.stderr.write(`entroscope: workflow ${workflowId}\n`);
  const stopProgress = showProgress(() => evaluationProgress(client, workflowId), quiet);
  try {
    return { ...(await (workerStopped ? Promise.race([handle.result(), workerStopped]) : handle.result())), workflowId };
  } finally {
    await stopProgress();
  }
}

/**
 * An evaluation's progress, per shard even while chunk workflows run: the evaluation's `progress`
 * counts finished chunks; each chunk it lists as running adds its own `chunkProgress` (a chunk that
 * closed after the first query answers with its final count, which the evaluation had not yet
 * added). A failed chunk query fails the whole read, so a display keeps its last value.
 */
export async function evaluationProgress(client: Client, workflowId: string): Promise<EvaluationProgress> {
  const p = await client.workflow.getHandle(workflowId).query(progressQuery);
  const chunks = await Promise.all((p.runningChunks ?? []).map((id) => client.workflow.getHandle(id).query(chunkProgressQuery)));
  for (const c of chunks) {
    p.shardsDone += c.extracted;
    p.samples += c.samples;
    p.tokens += c.tokens;
  }
  return p;
}

/** A progress bar on a terminal, a line every few seconds otherwise; from the workflow's query. */
export function showProgress(poll: () => Promise<{ phase: string; shardsTotal: number; shardsDone: number; samples: number }>, quiet: boolean): () => Promise<void> {
  const tty = process.stderr.isTTY;
  const bar = tty ? new cliProgress.SingleBar({ format: 'shards {bar} {value}/{total} | {phase} | {samples} samples | ETA {eta_formatted}', stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
  let started = false;
  let lastLine = '';
  let inFlight: Promise<unknown> = Promise.resolve();
  let busy = false;
  const timer = setInterval(async () => {
    // One read at a time: under load a read can outlast the interval, and an older answer shown
    // after a newer one would make the count go back.
    if (busy) return;
    busy = true;
    try {
      const query = poll();
      inFlight = query.catch(() => undefined);
      const p = await query;
      if (bar) {
        if (!started && p.shardsTotal > 0) {
          bar.start(p.shardsTotal, p.shardsDone, { phase: p.phase, samples: p.samples });
          started = true;
        } else if (started) bar.update(p.shardsDone, { phase: p.phase, samples: p.samples });
      } else if (!quiet) {
        const line = p.shardsTotal > 0 ? `entroscope: ${p.phase}: ${p.shardsDone}/${p.shardsTotal} shards` : `entroscope: ${p.phase}`;
        if (line !== lastLine) process.stderr.write(line + '\n');
        lastLine = line;
      }
    } catch {
      // Queries fail while the workflow is not yet picked up; the next tick retries.
    } finally {
      busy = false;
    }
  }, tty ? 250 : 2000);
  // Stopping waits for a query in flight, so the connection is never closed under it.
  return async () => {
    clearInterval(timer);
    await inFlight;
    if (started) bar?.stop();
  };
}

export function printResult(r: RunResult): void {
  const s = r.summary;
  const fmt = (x: number | null, d = 4) => (x === null ? '—' : x.toFixed(d));
  const withLoss = s.layers.some((l) => l.meanLoss !== null);
  const withDiff = s.layers.some((l) => l.diffErank);
  const header = ['model', 'layer', 'samples used', 'skipped', 'meanEntropy', 'erankOfMeanEntropy', 'meanErank', 'meanNormalizedEntropy', 'pooledErank'];
  process.stdout.write(
    formatTable(
      [...header, ...(withLoss ? ['meanLoss'] : []), ...(withDiff ? ['diffErank', 'erank ratio'] : []), ...(withDiff && withLoss ? ['ΔL'] : [])],
      s.layers.map((l) => {
        const m = l.metrics;
        return [
          s.model.name, l.layer, String(m.samplesUsed), String(m.samplesSkipped), fmt(m.meanEntropy),
          fmt(m.erankOfMeanEntropy, 2), fmt(m.meanErank, 2), fmt(m.meanNormalizedEntropy), fmt(l.pooled.pooledErank, 2),
          ...(withLoss ? [fmt(l.meanLoss)] : []),
          ...(withDiff ? [fmt(l.diffErank?.diffErank ?? null, 3), fmt(l.diffErank?.ratio ?? null)] : []),
          ...(withDiff && withLoss ? [fmt(l.reducedLoss ?? null)] : []),
        ];
      }),
    ),
  );
  process.stdout.write(
    `\n${s.dataset.name}: ${s.dataset.rows} rows, ${s.tokens} tokens (${s.truncatedSamples} truncated${s.maxTokens ? ` at ${s.maxTokens}` : ''}), d=${s.dim}; ` +
      `${r.shardsExtracted} of ${r.shardsTotal} shards computed now, ${r.shardsTotal - r.shardsExtracted} reused\n` +
      `${r.workflowId ? `workflow: ${r.workflowId}\n` : ''}results: ${s.outputs.prefix}\nsummary: ${r.summaryUri}\n${r.resultsUri ? `results.json: ${r.resultsUri}\n` : ''}`,
  );
  if (s.truncatedRows && s.truncatedRows.length > 0) process.stdout.write(`truncated: ${truncatedList(s.truncatedRows, s.truncatedSamples)}\n`);
  if (s.multimodal) printAlignment([...(r.clean ? [r.clean] : []), r]);
}

/** `rows 3, 17, 40` — the first few, then how many more (summary.json lists more). */
function truncatedList(rows: number[], count: number): string {
  const shown = rows.slice(0, 20);
  const more = count - shown.length;
  return `row${count > 1 ? 's' : ''} ${shown.join(', ')}${more > 0 ? ` and ${more} more (see summary.json)` : ''}`;
}

/** Image-text alignment (DESIGN §1.9) of a multimodal run, beside its clean run when perturbed. */
function printAlignment(results: EvaluationResult[]): void {
  const fmt = (x: number | null | undefined, d = 3) => (x === null || x === undefined ? '—' : x.toFixed(d));
  const ci = (i: { low: number; high: number } | null | undefined) => (i ? `[${i.low.toFixed(3)}, ${i.high.toFixed(3)}]` : '—');
  process.stdout.write('\nimage-text alignment\n');
  process.stdout.write(
    formatTable(
      ['images', 'samples used', 'eRank1', 'eRank2', 'eRank3', 'eRank4', 'eRank5', 'imageReductionRatio', '95% CI', 'imageTextAlignment', '95% CI'],
      results.map(({ summary }) => {
        const mm = summary.multimodal!;
        const a = mm.alignment;
        return [
          mm.imageTransform === 'none' ? 'clean' : mm.imageTransform, String(a.samplesUsed),
          ...(['eRank1', 'eRank2', 'eRank3', 'eRank4', 'eRank5'] as const).map((k) => fmt(a.meanErank[k].mean, 2)),
          fmt(a.imageReductionRatio), ci(a.imageReductionRatioCI95), fmt(a.imageTextAlignment), ci(a.imageTextAlignmentCI95),
        ];
      }),
    ),
  );
}
