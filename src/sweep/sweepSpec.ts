// A sweep: every model × every dataset, evaluated with the same settings, then fitted and reported.
// Written as YAML or JSON; validated once here with a message per bad field, trusted inside.
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { resolve, dirname, isAbsolute } from 'node:path';
import { InputError } from '../errors.ts';
import { specIssueLines } from '../specIssues.ts';
import { HIDDEN_STATES_FORMATS } from '../hiddenStates/hiddenStatesFormats.ts';
import { DEFAULT_MAX_RECORD_BYTES, MAX_RECORD_BYTES_LIMIT } from '../data/recordLimit.ts';

// Strict at every depth: an unknown key (a typo) is an error naming it, never silently ignored.
const ModelEntry = z.strictObject({
  /** Model folder or .onnx file (paths relative to the spec file); or `hiddenStates`. */
  model: z.string().min(1).optional(),
  /**
   * Hidden states computed elsewhere (a file or folder, local or s3://), evaluated instead of a model:
   * paired with the sweep's one dataset as their texts, or on their own when the sweep has none.
   */
  hiddenStates: z.string().min(1).optional(),
  hiddenStatesFormat: z.enum(HIDDEN_STATES_FORMATS).optional(),
  /** The stored layers' indices in order (vLLM: eagle_aux_hidden_state_layer_ids). */
  hiddenStatesLayerIds: z.array(z.number().int().nonnegative()).min(1).optional(),
  /** The model's num_hidden_layers: HF index L is then `final`. */
  hiddenStatesBlocks: z.number().int().positive().optional(),
  /** The untrained twin's hidden states, for diffErank. */
  hiddenStatesUntrained: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
  family: z.string().min(1).optional(),
  params: z.number().positive().optional(),
});

const IMAGE_TRANSFORMS = ['none', 'rotate90', 'rotate180', 'grayscale', 'noise'] as const;

const DatasetEntry = z.strictObject({
  data: z.string().min(1),
  format: z.enum(['jsonl', 'json', 'csv', 'tsv', 'parquet', 'arrow', 'txt']).optional(),
  /** Image-text datasets (multimodal models): row form, image field, where relative images are. */
  form: z.enum(['plain', 'llava', 'ccSbu']).optional(),
  imageField: z.string().min(1).optional(),
  imageRoot: z.string().min(1).optional(),
  /** Let rows name absolute image paths and s3:// URIs outside the dataset's folder / imageRoot. */
  allowAbsoluteImages: z.boolean().optional(),
  textField: z.string().min(1).optional(),
  template: z.string().min(1).optional(),
  nonEmpty: z.array(z.string().min(1)).optional(),
  limit: z.number().int().positive().optional(),
  sample: z.strictObject({ count: z.number().int().positive(), seed: z.number().int().nonnegative() }).optional(),
});

export const SweepSpecSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ - only').default('sweep'),
    store: z.string().min(1),
    /** Where finished sweeps are archived (file://, a folder or s3://); none when absent. */
    archive: z.string().min(1).optional(),
    models: z.array(ModelEntry).min(1, 'give at least one model'),
    /** Optional only when every model entry names hiddenStates. */
    datasets: z.array(DatasetEntry).default([]),
    layers: z.array(z.string().min(1)).min(1).default(['last']),
    loss: z.boolean().default(true),
    diffErank: z.boolean().default(false),
    /**
     * Multimodal models: evaluate every image-text dataset once per listed image perturbation
     * (`none` is the clean run), so the report shows alignment clean and perturbed side by side.
     */
    imageTransforms: z.array(z.enum(IMAGE_TRANSFORMS)).min(1).default(['none']),
    noiseSigma: z.number().positive().max(255).default(25),
    untrainSeed: z.number().int().nonnegative().default(0),
    shardSize: z.number().int().positive().default(64),
    batchSize: z.number().int().positive().default(16),
    /** Tokens kept per text; default: each model's maximum positions. */
    maxTokens: z.number().int().min(2).optional(),
    reduceFanIn: z.number().int().min(2).max(1000).default(16),
    seed: z.number().int().nonnegative().default(0),
    /** Seconds without a heartbeat before a shard's attempt counts as lost (its worker died). */
    heartbeatSeconds: z.number().int().min(2).max(3600).default(120),
    /** Largest JSONL line / CSV record / .txt file read, in bytes; a larger one is an error naming it. */
    maxRecordBytes: z.number().int().min(1024).max(MAX_RECORD_BYTES_LIMIT).default(DEFAULT_MAX_RECORD_BYTES),
    /** Resume evaluations whose finished shards were extracted with other entroscope/onnxruntime versions. */
    allowMixedVersions: z.boolean().default(false),
    concurrency: z
      .strictObject({
        /** Evaluations (model × dataset) running at once. */
        evaluations: z.number().int().positive().max(1000).default(2),
        /** Shards extracting at once per evaluation. */
        shards: z.number().int().positive().max(1000).default(8),
        /** Chunk workflows (up to ~256 shards each) running at once per large evaluation. */
        chunks: z.number().int().positive().max(1000).default(4),
      })
      .default({ evaluations: 2, shards: 8, chunks: 4 }),
  })
  // Reported beside every other bad field (zod runs this even when fields above failed).
  .superRefine((spec, ctx) => {
    spec.models.forEach((m, i) => {
      if ((m.model === undefined) === (m.hiddenStates === undefined)) ctx.addIssue({ code: 'custom', message: 'give model or hiddenStates, exactly one', path: ['models', i, 'model'] });
      const statesOnly = (['hiddenStatesFormat', 'hiddenStatesLayerIds', 'hiddenStatesBlocks', 'hiddenStatesUntrained'] as const).filter((k) => m[k] !== undefined);
      if (m.model !== undefined && statesOnly.length > 0) ctx.addIssue({ code: 'custom', message: `${statesOnly.join(', ')} go with hiddenStates`, path: ['models', i, statesOnly[0]] });
    });
    const datasets = spec.datasets ?? [];
    if (spec.models.some((m) => m.hiddenStates === undefined) && datasets.length === 0) ctx.addIssue({ code: 'custom', message: 'give at least one dataset', path: ['datasets'] });
    if (spec.models.some((m) => m.hiddenStates !== undefined) && datasets.length > 1) {
      ctx.addIssue({ code: 'custom', message: `models with hiddenStates pair with the sweep's one dataset (their texts), but it has ${datasets.length}; sweep each dataset's hidden states separately`, path: ['datasets'] });
    }
  });

/** A dataset entry as the workflow uses it: with the image perturbation of its evaluations. */
export type SweepDataset = z.output<typeof DatasetEntry> & { imageTransform?: (typeof IMAGE_TRANSFORMS)[number]; noiseSigma?: number };

export type SweepSpec = Omit<z.output<typeof SweepSpecSchema>, 'datasets'> & { datasets: SweepDataset[] };

/** Parses a YAML/JSON sweep spec; relative paths are taken from the spec file's folder. */
export function parseSweepSpec(text: string, file: string): SweepSpec {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new InputError(`${file}: not valid YAML/JSON (${(err as Error).message})`);
  }
  const result = SweepSpecSchema.safeParse(raw);
  if (!result.success) {
    const lines = specIssueLines(SweepSpecSchema, result.error.issues).map((l) => `  ${l}`);
    throw new InputError(`${file}: invalid sweep spec\n${lines.join('\n')}`);
  }
  const spec: SweepSpec = result.data;
  const base = dirname(resolve(file));
  const abs = (p: string) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(p) || isAbsolute(p) ? p : resolve(base, p));
  spec.store = abs(spec.store);
  if (spec.archive) spec.archive = abs(spec.archive);
  for (const m of spec.models) {
    if (m.model !== undefined) m.model = abs(m.model);
    if (m.hiddenStates !== undefined) m.hiddenStates = abs(m.hiddenStates);
    if (m.hiddenStatesUntrained !== undefined) m.hiddenStatesUntrained = abs(m.hiddenStatesUntrained);
  }
  for (const d of spec.datasets) {
    d.data = abs(d.data);
    if (d.imageRoot) d.imageRoot = abs(d.imageRoot);
  }
  for (const [i, d] of spec.datasets.entries()) {
    if (d.textField && d.template) throw new InputError(`${file}: datasets[${i}]: give textField or template, not both`);
  }
  const transforms = [...new Set(spec.imageTransforms)];
  if (transforms.length > 1 || transforms[0] !== 'none') {
    // One evaluation per dataset × perturbation; text models reject a perturbation, so say it here.
    spec.datasets = spec.datasets.flatMap((d) =>
      transforms.map((t) => ({ ...d, imageTransform: t, ...(t === 'noise' ? { noiseSigma: spec.noiseSigma } : {}) })),
    );
  }
  return spec;
}
