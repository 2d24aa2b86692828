// results.json: an evaluation's (and a sweep's) results in the layout of EleutherAI's
// lm-evaluation-harness (`lm_eval --output_path`, EvaluationTracker.save_results_aggregated), so
// tools that read harness results read ours:
//
//   results[task]["<metric>,<filter>"]          a value; "<metric>_stderr,<filter>" its standard error
//   configs[task], versions[task], n-shot[task], higher_is_better[task][metric],
//   n-samples[task] = {original, effective}, task_hashes[task]
//   config (the model and run settings), git_hash, date (Unix seconds), model_name, model_source
//
// entroscope's mapping: a task is a dataset; the harness's filter slot holds the layer (hidden-state
// tap), so `meanEntropy,final` is the mean matrix entropy at the final layer; per-model values (loss)
// use the harness's `none`. `versions[task]` is, as in the harness, the version of the task's
// metric definitions (RESULTS_METRICS_VERSION); the software versions are `software_versions` and the
// engines that extracted the shards `extraction_runtimes`. A sweep's results.json has one task per
// model × dataset (`<model>/<dataset>`), grouped by model in `group_subtasks`.
// The schema below is published as schemas/results.schema.json (z.toJSONSchema).
import { z } from 'zod';
import type { EvaluationSummary, LayerSummary } from '../eval/summary.ts';

/** Version of the metric definitions behind `results` (the harness's per-task `versions`). */
export const RESULTS_METRICS_VERSION = 1;
/** Bootstrap resamples behind the summaries' intervals (datasetMetrics' default). */
const BOOTSTRAP_ITERS = 1000;

// ---- schema ------------------------------------------------------------------------------------

/** A metric value, or the harness's "N/A" where none could be computed (e.g. a standard error of one sample). */
const metricValue = z.union([z.number(), z.literal('N/A')]);

const taskResults = z
  .object({ alias: z.string().describe('the task (dataset) as a reader names it') })
  .catchall(metricValue)
  .describe('"<metric>,<layer>" (or ",none" for per-model values) → value; "<metric>_stderr,<layer>" → its standard error');

const metricEntry = z.strictObject({
  metric: z.string(),
  aggregation: z.string(),
  higher_is_better: z.boolean().nullable(),
});

const taskConfig = z
  .object({
    task: z.string(),
    dataset_path: z.string().describe('the dataset as given (path or s3:// URI)'),
    dataset_name: z.string(),
    dataset_sha256: z.string().regex(/^[0-9a-f]{64}$/),
    dataset_rows: z.number().int().nonnegative(),
    output_type: z.literal('hidden_states'),
    layers: z.array(z.string()).min(1),
    metric_list: z.array(metricEntry),
    text_field: z.string().nullable(),
    template: z.string().nullable(),
    format: z.string().nullable(),
    non_empty: z.array(z.string()).nullable(),
    limit: z.number().int().nullable(),
    sample: z.strictObject({ count: z.number().int(), seed: z.number().int() }).nullable(),
    max_tokens: z.number().int(),
    max_positions: z.number().int().nullable(),
    shard_size: z.number().int(),
    reduce_fan_in: z.number().int(),
    image_transform: z.string().nullable(),
    metadata: z.strictObject({ version: z.number() }),
  })
  .catchall(z.unknown())
  .describe('the task (dataset) and how it was read; a sweep adds the model_* fields of its config');

const modelConfig = z
  .object({
    model: z.enum(['entroscope-onnx', 'entroscope-hidden-states']),
    model_args: z.string().describe('path=<model.onnx>,tokenizer=<tokenizer.json>'),
    model_name: z.string(),
    model_sha256: z.string().regex(/^[0-9a-f]{64}$/).describe('sha256 of model.onnx (multimodal: of every part’s hash)'),
    tokenizer_sha256: z.string().regex(/^[0-9a-f]{64}$/),
    model_num_parameters: z.number().nullable(),
    model_family: z.string().nullable(),
    model_blocks: z.number().int().nullable(),
    untrained_twin: z.boolean(),
    batch_size: z.number().int().nullable(),
    batch_sizes: z.array(z.number().int()),
    device: z.string(),
    limit: z.number().int().nullable(),
    bootstrap_iters: z.number().int(),
    random_seed: z.number().int(),
    sample_seed: z.number().int().nullable(),
    diff_erank: z.boolean(),
    untrain_seed: z.number().int().nullable(),
    config_sha256: z.string(),
  })
  .catchall(z.unknown());

const extractionRuntime = z
  .object({
    entroscope: z.string(),
    onnxruntime: z.string(),
    executionProvider: z.string(),
    intraOpThreads: z.number().int(),
    poolThreads: z.number().int().nullable(),
    shards: z.number().int().describe('shards of this evaluation extracted by this runtime'),
  })
  .catchall(z.unknown());

const common = {
  results: z.record(z.string(), taskResults),
  groups: z.record(z.string(), z.record(z.string(), z.unknown())),
  group_subtasks: z.record(z.string(), z.array(z.string())),
  configs: z.record(z.string(), taskConfig),
  versions: z.record(z.string(), z.number()).describe('per task: the version of its metric definitions (as in the harness)'),
  'n-shot': z.record(z.string(), z.number().int()),
  higher_is_better: z.record(z.string(), z.record(z.string(), z.boolean().nullable())),
  'n-samples': z.record(z.string(), z.strictObject({ original: z.number().int().nonnegative(), effective: z.number().int().nonnegative() })),
  task_hashes: z.record(z.string(), z.string()).describe('per task: the dataset sha256'),
  git_hash: z.string().nullable().describe('the entroscope source commit (ENTROSCOPE_GIT_HASH or git rev-parse HEAD), null when unknown'),
  date: z.number().describe('when this file was written, Unix seconds'),
  entroscope_version: z.string(),
  software_versions: z.record(z.string(), z.string()).describe('entroscope, onnxruntime-node, tokenizers, apache-arrow, node of the process that wrote this file'),
};

export const evaluationResultsSchema = z.strictObject({
  ...common,
  config: modelConfig,
  model_source: z.enum(['onnx', 'hidden_states']),
  model_name: z.string(),
  model_name_sanitized: z.string(),
  extraction_runtimes: z.array(extractionRuntime),
  entroscope: z.strictObject({
    kind: z.literal('evaluation'),
    run: z.string(),
    prefix: z.string(),
    summary: z.string(),
    shards: z.number().int(),
    tokens: z.number().int(),
    truncated_samples: z.number().int(),
  }),
});

export const sweepResultsSchema = z.strictObject({
  ...common,
  config: z
    .object({
      sweep_id: z.string(),
      sweep_name: z.string(),
      store: z.string(),
      models: z.array(modelConfig),
      random_seed: z.number().int(),
      diff_erank: z.boolean(),
      untrain_seed: z.number().int(),
      layers: z.array(z.string()),
    })
    .catchall(z.unknown()),
  entroscope: z.strictObject({
    kind: z.literal('sweep'),
    /** Per task: the evaluation's own results.json. */
    evaluations: z.record(z.string(), z.string()),
    failed: z.record(z.string(), z.string()),
    fits: z.string(),
  }),
});

/** Either document; `entroscope.kind` tells which. Published as schemas/results.schema.json. */
export const resultsSchema = z.union([evaluationResultsSchema, sweepResultsSchema]);

export type EvaluationResults = z.infer<typeof evaluationResultsSchema>;
export type SweepResults = z.infer<typeof sweepResultsSchema>;

/** The JSON Schema (draft 2020-12) of results.json, as published in schemas/results.schema.json. */
export function resultsJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(resultsSchema, { target: 'draft-2020-12' }),
    title: 'entroscope results.json (lm-evaluation-harness layout)',
  };
}

// ---- builders ----------------------------------------------------------------------------------

/** Per-layer metrics: [name, value of a layer, its SE (undefined: none kept), higher is better]. */
const LAYER_METRICS: Array<[string, (l: LayerSummary) => number | null | undefined, ((l: LayerSummary) => number | null) | undefined, boolean | null]> = [
  ['meanEntropy', (l) => l.metrics.meanEntropy, (l) => l.metrics.meanEntropySE, null],
  ['meanNormalizedEntropy', (l) => l.metrics.meanNormalizedEntropy, (l) => l.metrics.meanNormalizedEntropySE, null],
  ['erankOfMeanEntropy', (l) => l.metrics.erankOfMeanEntropy, undefined, null],
  ['meanErank', (l) => l.metrics.meanErank, (l) => l.metrics.meanErankSE, null],
  ['pooledEntropy', (l) => l.pooled.pooledEntropy, undefined, null],
  ['pooledNormalizedEntropy', (l) => l.pooled.pooledNormalizedEntropy, undefined, null],
  ['pooledErank', (l) => l.pooled.pooledErank, undefined, null],
  // Diff-eRank (DESIGN §1.7): larger = more of the untrained twin's "noise" removed by training.
  ['diffErank', (l) => l.diffErank?.diffErank, undefined, true],
  ['untrainedErankOfMeanEntropy', (l) => l.diffErank?.untrainedErankOfMeanEntropy, undefined, null],
];

const value = (x: number | null): number | 'N/A' => (x === null || !Number.isFinite(x) ? 'N/A' : x);

/** A dataset as a task: its name, and the image perturbation of a multimodal run. */
export function taskName(summary: EvaluationSummary): string {
  const t = summary.multimodal?.imageTransform;
  return t && t !== 'none' ? `${summary.dataset.name} (${t})` : summary.dataset.name;
}

function taskMetrics(summary: EvaluationSummary): { results: z.infer<typeof taskResults>; higher: Record<string, boolean | null>; metricList: z.infer<typeof metricEntry>[] } {
  const task = taskName(summary);
  // `alias` is the one string among the values (the schema's `properties`; the rest `additionalProperties`).
  const results = { alias: task } as unknown as z.infer<typeof taskResults>;
  const higher: Record<string, boolean | null> = {};
  for (const [name, get, se, better] of LAYER_METRICS) {
    let any = false;
    for (const l of summary.layers) {
      const v = get(l);
      if (v === undefined) continue;
      any = true;
      results[`${name},${l.layer}`] = value(v);
      if (se) results[`${name}_stderr,${l.layer}`] = value(se(l));
    }
    if (any) higher[name] = better;
  }
  // Loss does not depend on the layer: once per model, under the harness's `none`.
  const first = summary.layers[0];
  if (first.meanLoss !== null) {
    results['meanLoss,none'] = value(first.meanLoss);
    higher.meanLoss = false;
  }
  if (first.reducedLoss !== undefined && first.reducedLoss !== null) {
    results['reducedLoss,none'] = value(first.reducedLoss);
    higher.reducedLoss = true;
  }
  if (summary.multimodal) {
    for (const [k, v] of Object.entries(summary.multimodal.alignment as unknown as Record<string, unknown>)) {
      if (typeof v === 'number') results[`${k},alignment`] = value(v);
    }
  }
  const metricList = Object.entries(higher).map(([metric, h]) => ({ metric, aggregation: metric.startsWith('pooled') ? 'pooled' : 'mean', higher_is_better: h }));
  return { results, higher, metricList };
}

/** What a results.json needs of an evaluation's plan (src/eval/plan.ts). */
export interface PlanFacts {
  /** `hiddenStates`: precomputed hidden states (model.onnxPath is their URI). */
  kind?: string;
  spec: {
    model?: string;
    data?: string;
    format?: string;
    textField?: string;
    template?: string;
    nonEmpty?: string[];
    limit?: number;
    sample?: { count: number; seed: number };
    shardSize: number;
    batchSize?: number;
    reduceFanIn: number;
    seed: number;
    diffErank: boolean;
    untrainSeed: number;
    imageTransform?: string;
  };
  model: { onnxPath: string; tokenizerPath: string };
  dataset: { path: string };
  maxTokens: number;
  maxPositions: { positions: number } | null;
}

export type ShardRuntimeCount = z.infer<typeof extractionRuntime>;

export interface ResultsContext {
  gitHash: string | null;
  /** Unix seconds. */
  date: number;
  softwareVersions: Record<string, string>;
}

/** A model name as a single safe path segment (the harness's model_name_sanitized). */
const sanitize = (name: string) => name.replace(/[^A-Za-z0-9._-]+/g, '__');

export function evaluationResults(summary: EvaluationSummary, plan: PlanFacts, runtimes: ShardRuntimeCount[], ctx: ResultsContext): EvaluationResults {
  const task = taskName(summary);
  const { results, higher, metricList } = taskMetrics(summary);
  const effective = summary.layers[0].metrics.samplesUsed;
  return {
    results: { [task]: results },
    groups: {},
    group_subtasks: { [task]: [] },
    configs: {
      [task]: {
        task,
        dataset_path: plan.spec.data ?? plan.dataset.path,
        dataset_name: summary.dataset.name,
        dataset_sha256: summary.dataset.sha256,
        dataset_rows: summary.dataset.rows,
        output_type: 'hidden_states',
        layers: summary.layers.map((l) => l.layer),
        metric_list: metricList,
        text_field: plan.spec.textField ?? null,
        template: plan.spec.template ?? null,
        format: plan.spec.format ?? null,
        non_empty: plan.spec.nonEmpty ?? null,
        limit: plan.spec.limit ?? null,
        sample: plan.spec.sample ?? null,
        max_tokens: plan.maxTokens,
        max_positions: plan.maxPositions?.positions ?? null,
        shard_size: plan.spec.shardSize,
        reduce_fan_in: plan.spec.reduceFanIn,
        image_transform: summary.multimodal?.imageTransform ?? null,
        metadata: { version: RESULTS_METRICS_VERSION },
      },
    },
    versions: { [task]: RESULTS_METRICS_VERSION },
    'n-shot': { [task]: 0 },
    higher_is_better: { [task]: higher },
    'n-samples': { [task]: { original: summary.dataset.rows, effective } },
    task_hashes: { [task]: summary.dataset.sha256 },
    config: {
      model: plan.kind === 'hiddenStates' ? 'entroscope-hidden-states' : 'entroscope-onnx',
      model_args: plan.kind === 'hiddenStates' ? `hidden_states=${plan.model.onnxPath}` : `path=${plan.model.onnxPath},tokenizer=${plan.model.tokenizerPath}`,
      model_name: summary.model.name,
      model_sha256: summary.model.onnxSha256,
      tokenizer_sha256: summary.model.tokenizerSha256,
      model_num_parameters: summary.model.params ?? null,
      model_family: summary.model.family ?? null,
      model_blocks: summary.model.blocks ?? null,
      untrained_twin: summary.model.untrainedTwin === true,
      batch_size: plan.spec.batchSize ?? null,
      batch_sizes: [],
      device: [...new Set(runtimes.map((r) => r.executionProvider))].join(',') || 'cpu',
      limit: plan.spec.limit ?? null,
      bootstrap_iters: BOOTSTRAP_ITERS,
      random_seed: summary.seed,
      sample_seed: plan.spec.sample?.seed ?? null,
      diff_erank: plan.spec.diffErank,
      untrain_seed: plan.spec.diffErank ? plan.spec.untrainSeed : null,
      config_sha256: summary.configSha256,
    },
    git_hash: ctx.gitHash,
    date: ctx.date,
    entroscope_version: ctx.softwareVersions.entroscope ?? 'unknown',
    software_versions: ctx.softwareVersions,
    model_source: plan.kind === 'hiddenStates' ? 'hidden_states' : 'onnx',
    model_name: summary.model.name,
    model_name_sanitized: sanitize(summary.model.name),
    extraction_runtimes: runtimes,
    entroscope: {
      kind: 'evaluation',
      run: summary.outputs.run ?? '',
      prefix: summary.outputs.prefix,
      summary: summary.outputs.summary,
      shards: summary.outputs.shards,
      tokens: summary.tokens,
      truncated_samples: summary.truncatedSamples,
    },
  };
}

/** One sweep evaluation's results.json (read back from the store), with where it lives. */
export interface SweepEntry {
  results: EvaluationResults;
  uri: string;
}

export function sweepResults(
  sweep: { sweepId: string; name: string; store: string; seed: number; diffErank: boolean; untrainSeed: number; layers: string[]; fitsUri: string },
  entries: SweepEntry[],
  failed: Array<{ model: string; dataset: string; error: string }>,
  ctx: ResultsContext,
): SweepResults {
  const out: SweepResults = {
    results: {},
    groups: {},
    group_subtasks: {},
    configs: {},
    versions: {},
    'n-shot': {},
    higher_is_better: {},
    'n-samples': {},
    task_hashes: {},
    config: {
      sweep_id: sweep.sweepId,
      sweep_name: sweep.name,
      store: sweep.store,
      models: [],
      random_seed: sweep.seed,
      diff_erank: sweep.diffErank,
      untrain_seed: sweep.untrainSeed,
      layers: sweep.layers,
    },
    git_hash: ctx.gitHash,
    date: ctx.date,
    entroscope_version: ctx.softwareVersions.entroscope ?? 'unknown',
    software_versions: ctx.softwareVersions,
    entroscope: { kind: 'sweep', evaluations: {}, failed: {}, fits: sweep.fitsUri },
  };
  for (const { results: r, uri } of entries) {
    const model = r.model_name;
    if (!out.config.models.some((m) => m.model_sha256 === r.config.model_sha256 && m.model_name === model)) out.config.models.push(r.config);
    for (const [dataset, res] of Object.entries(r.results)) {
      const task = `${model}/${dataset}`;
      out.results[task] = { ...res, alias: task } as z.infer<typeof taskResults>;
      const { model: _m, ...modelFields } = r.config;
      out.configs[task] = { ...r.configs[dataset], task, ...modelFields };
      out.versions[task] = r.versions[dataset];
      out['n-shot'][task] = r['n-shot'][dataset];
      out.higher_is_better[task] = r.higher_is_better[dataset];
      out['n-samples'][task] = r['n-samples'][dataset];
      out.task_hashes[task] = r.task_hashes[dataset];
      (out.group_subtasks[model] ??= []).push(task);
      out.entroscope.evaluations[task] = uri;
    }
  }
  for (const f of failed) out.entroscope.failed[`${f.model}/${f.dataset}`] = f.error;
  return out;
}
