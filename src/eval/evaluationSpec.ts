// What one evaluation (one model × one dataset) is asked to do. Validated once at the edge (CLI or
// workflow input) with zod; trusted everywhere inside.
import { z } from 'zod';

export const EvaluationSpecSchema = z.object({
  /** Model folder (model.onnx + tokenizer.json) or .onnx file, as the workers see it. */
  model: z.string().min(1, 'model: give a model folder or .onnx file'),
  /** JSON Lines dataset path. */
  data: z.string().min(1, 'data: give a .jsonl file'),
  textField: z.string().min(1).default('text'),
  /** Rows per shard: one extraction activity each. */
  shardSize: z.number().int().positive().max(1_000_000).default(64),
  /** Texts per ONNX batch inside a shard. */
  batchSize: z.number().int().positive().max(4096).default(16),
  /** Tokens kept per text (longer texts are truncated and counted). */
  maxTokens: z.number().int().min(2).max(1_000_000).default(256),
  /** Where results go: file:///dir, a path, or s3://bucket/prefix. */
  store: z.string().min(1),
  /** Shards extracting at once (the workflow's sliding window). */
  maxParallelShards: z.number().int().positive().max(1000).default(8),
  /** Partial Grams summed per reduction step. */
  reduceFanIn: z.number().int().min(2).max(1000).default(16),
  /** Seed for bootstrap intervals. */
  seed: z.number().int().nonnegative().default(0),
});

export type EvaluationSpecInput = z.input<typeof EvaluationSpecSchema>;
export type EvaluationSpec = z.output<typeof EvaluationSpecSchema>;

/** Parses and validates; the error lists each bad field by name. */
export function parseEvaluationSpec(input: unknown): EvaluationSpec {
  const result = EvaluationSpecSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(spec)'}: ${i.message}`);
    throw new Error(`invalid evaluation spec:\n${lines.join('\n')}`);
  }
  return result.data;
}
