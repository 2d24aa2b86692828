// What one evaluation (one model × one dataset) is asked to do. Validated once at the edge (CLI or
// workflow input) with zod; trusted everywhere inside.
import { z } from 'zod';
import { InputError } from '../errors.ts';
import { specIssueLines } from '../specIssues.ts';
import { HIDDEN_STATES_FORMATS } from '../hiddenStates/hiddenStatesFormats.ts';
import { DEFAULT_MAX_RECORD_BYTES, MAX_RECORD_BYTES_LIMIT } from '../data/recordLimit.ts';

/** Precomputed hidden states: where, in which format, and which layers the stored tensors are. */
export const HiddenStatesSpecSchema = z.strictObject({
  /** A file or folder, local (absolute) or s3://. */
  uri: z.string().min(1, 'hiddenStates.uri: give a file or folder of hidden states'),
  format: z.enum(HIDDEN_STATES_FORMATS).optional(),
  /** The index of each stored layer in order (vLLM: eagle_aux_hidden_state_layer_ids). */
  layerIds: z.array(z.number().int().nonnegative()).min(1).optional(),
  /** The model's num_hidden_layers: HF index L is then `final`. */
  blocks: z.number().int().positive().optional(),
  /** The untrained twin's hidden states, same layout (for diffErank). */
  untrained: z.string().min(1).optional(),
});

// Strict: an unknown key (a typo in a workflow input) is an error naming it, never ignored.
export const EvaluationSpecSchema = z.strictObject({
  /** Model folder (model.onnx + tokenizer.json) or .onnx file, as the workers see it; or `hiddenStates`. */
  model: z.string().min(1, 'model: give a model folder or .onnx file').optional(),
  /**
   * Hidden states computed elsewhere (src/hiddenStates/hiddenStatesSource.ts), evaluated instead of
   * running a model; `data` is then optional: the texts the states were computed from, row i ↔ sample i.
   */
  hiddenStates: HiddenStatesSpecSchema.optional(),
  /** Dataset: JSONL, CSV/TSV, Parquet, Arrow IPC (optionally .gz), or a folder of .txt files. */
  data: z.string().min(1, 'data: give a dataset file (.jsonl, .csv, .tsv, .parquet, .arrow) or a folder of .txt files').optional(),
  /** `json`: one JSON document (e.g. cc_sbu_align's filter_cap.json), image-text datasets only. */
  format: z.enum(['jsonl', 'json', 'csv', 'tsv', 'parquet', 'arrow', 'txt']).optional(),
  /** Field holding the text; or `template` over several fields. */
  textField: z.string().min(1).optional(),
  template: z.string().min(1).optional(),
  /**
   * Image-text datasets (multimodal models): the row form — `plain` ({image, text}), `llava`
   * (detail_23k conversations) or `ccSbu` (cc_sbu_align captions); told from the first row when absent.
   */
  form: z.enum(['plain', 'llava', 'ccSbu']).optional(),
  /** plain rows: the field holding the image path or s3:// URI (default `image`). */
  imageField: z.string().min(1).optional(),
  /** Folder or s3:// prefix relative image paths are resolved against (default: the dataset's folder). */
  imageRoot: z.string().min(1).optional(),
  /** Let rows name absolute image paths and s3:// URIs outside the dataset's folder / imageRoot. */
  allowAbsoluteImages: z.boolean().default(false),
  /** Perturb every image before preprocessing (the paper rotates images and sees alignment fall). */
  imageTransform: z.enum(['none', 'rotate90', 'rotate180', 'grayscale', 'noise']).default('none'),
  /** noise: standard deviation on the 0–255 scale; the image of row r gets PRNG seed `seed + r`. */
  noiseSigma: z.number().positive().max(255).default(25),
  /** Keep only rows whose listed fields are non-empty (e.g. the paper's dolly selection: context). */
  nonEmpty: z.array(z.string().min(1)).optional(),
  limit: z.number().int().positive().optional(),
  sample: z.strictObject({ count: z.number().int().positive(), seed: z.number().int().nonnegative() }).optional(),
  /** Largest JSONL line / CSV record / .txt file read, in bytes; a larger one is an error naming it. */
  maxRecordBytes: z.number().int().min(1024).max(MAX_RECORD_BYTES_LIMIT).default(DEFAULT_MAX_RECORD_BYTES),
  /** Hidden-state taps: `last`, `all`, names from `entroscope layers`, or hidden_states indices. */
  layers: z.array(z.string().min(1)).min(1).default(['last']),
  /** Next-token loss, for models with logits (ignored for others). */
  loss: z.boolean().default(true),
  /** Rows per shard: one extraction activity each. */
  shardSize: z.number().int().positive().max(1_000_000).default(64),
  /** Texts per ONNX batch inside a shard. */
  batchSize: z.number().int().positive().max(4096).default(16),
  /**
   * Tokens kept per text (longer texts are truncated, counted and listed); default: the model's
   * maximum positions (src/model/maxPositions.ts). More than the model's limit is refused at planning.
   */
  maxTokens: z.number().int().min(2).max(1_000_000).optional(),
  /** Where results go: file:///dir, a path, or s3://bucket/prefix. */
  store: z.string().min(1),
  /** Shards extracting at once (the workflow's sliding window). */
  maxParallelShards: z.number().int().positive().max(1000).default(8),
  /** Chunks (child workflows of up to ~256 shards) running at once, for evaluations larger than one chunk. */
  maxParallelChunks: z.number().int().positive().max(1000).default(4),
  /** Seconds without a heartbeat before a shard's attempt counts as lost (its worker died) and moves on. */
  heartbeatSeconds: z.number().int().min(2).max(3600).default(120),
  /** Partial Grams summed per reduction step. */
  reduceFanIn: z.number().int().min(2).max(1000).default(16),
  /** Seed for bootstrap intervals. */
  seed: z.number().int().nonnegative().default(0),
  /** The model's name in summaries and reports (a sweep's `name:`; default the folder or .onnx file name). */
  modelName: z.string().min(1).optional(),
  /** Model family (for scaling fits) and parameter count (counted from the graph when absent). */
  family: z.string().min(1).optional(),
  params: z.number().positive().optional(),
  /** Also evaluate the untrained twin (weights re-initialised from `untrainSeed`) and report Diff-eRank. */
  diffErank: z.boolean().default(false),
  untrainSeed: z.number().int().nonnegative().default(0),
  /**
   * Resume an evaluation whose finished shards were extracted with other entroscope or onnxruntime
   * versions (or another execution provider / thread count) than this worker's: refused unless set.
   */
  allowMixedVersions: z.boolean().default(false),
  /** Set on the untrained twin's own evaluation (a Diff-eRank baseline, not a model of a family). */
  untrainedTwin: z.boolean().default(false),
});

export type EvaluationSpecInput = z.input<typeof EvaluationSpecSchema>;
export type EvaluationSpec = z.output<typeof EvaluationSpecSchema>;

/** Parses and validates; the error lists each bad field by name. */
export function parseEvaluationSpec(input: unknown): EvaluationSpec {
  const result = EvaluationSpecSchema.refine((s) => !(s.textField && s.template), {
    message: 'give textField or template, not both',
    path: ['template'],
  })
    .refine((s) => (s.model === undefined) !== (s.hiddenStates === undefined), {
      message: 'give a model or hiddenStates (precomputed hidden states), exactly one',
      path: ['model'],
    })
    .refine((s) => s.hiddenStates !== undefined || s.data !== undefined, {
      message: 'data: give a dataset file (.jsonl, .csv, .tsv, .parquet, .arrow) or a folder of .txt files',
      path: ['data'],
    })
    .safeParse(input);
  if (!result.success) {
    const lines = specIssueLines(EvaluationSpecSchema, result.error.issues).map((l) => `  ${l}`);
    throw new InputError(`invalid evaluation spec:\n${lines.join('\n')}`);
  }
  return result.data;
}
