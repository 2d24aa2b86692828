// `entroscope run`: evaluate one model on one dataset through Temporal.
import type { Command } from 'commander';
import { defaults } from '../defaults.ts';
import { DEFAULT_MAX_RECORD_BYTES } from '../../src/data/recordLimit.ts';
import type { RunOptions } from '../actions/run.ts';
import { applyExecutionProvider, executionProviderOption } from '../executionProviderOption.ts';

export function registerRun(program: Command): void {
  const cmd = program
    .command('run')
    .description('evaluate one model on one dataset (embedded Temporal + local store unless configured)')
    .option('--model <path>', 'model folder (model.onnx + tokenizer.json), .onnx file, s3:// URI, or a Hugging Face checkpoint folder (exported once with optimum)', undefined)
    .option('--hidden-states <uri>', 'evaluate hidden states computed elsewhere instead of a model: a .safetensors/.npy/.arrow file or folder, local or s3:// (README: Hidden states from another engine)')
    .option('--hidden-states-format <fmt>', 'safetensors|npy|arrow, when the extension does not say')
    .option('--hidden-states-layer-ids <ids>', "the stored layers' indices in order (vLLM: the eagle_aux_hidden_state_layer_ids, which its files do not record)")
    .option('--hidden-states-blocks <L>', "the model's num_hidden_layers: Hugging Face index L is then named final")
    .option('--hidden-states-untrained <uri>', "the untrained twin's hidden states (same layout), for --diff-erank")
    .option('--data <path>', 'dataset: .jsonl, .csv, .tsv, .parquet, .arrow (optionally .gz), or a folder of .txt files', undefined)
    .option('--format <fmt>', 'dataset format when the extension does not say: jsonl|json|csv|tsv|parquet|arrow|txt')
    .option('--text-field <name>', 'field holding the text (default: text)')
    .option('--template <t>', 'text built from fields, e.g. "{instruction}\\n{context}\\n{response}"')
    .option('--non-empty <fields>', 'keep only rows whose comma-separated fields are non-empty')
    .option('--limit <rows>', 'keep at most this many rows')
    .option('--sample <count>', 'a seeded random subset of this many rows (after --non-empty, before --limit), in file order')
    .option('--sample-seed <n>', 'seed of --sample', '0')
    .option('--max-record-bytes <bytes>', 'largest JSONL line, CSV record or .txt file; a larger one is an error naming it', String(DEFAULT_MAX_RECORD_BYTES))
    .option('--layers <list>', 'hidden-state taps: last, all, names from `entroscope layers`, or indices (0 = embeddings)', 'last')
    .option('--diff-erank', 'also evaluate the untrained twin and report Diff-eRank (and ΔL for models with logits)')
    .option('--untrain-seed <n>', 'seed of the untrained twin', '0')
    .option('--model-name <name>', "the model's name in summaries and reports (default: its folder or .onnx file name)")
    .option('--family <name>', 'model family, for scaling fits in reports')
    .option('--params <count>', 'parameter count (default: counted from the graph)')
    .option('--shard-size <rows>', 'rows per shard (one extraction activity each)', '64')
    .option('--batch-size <texts>', 'texts per ONNX batch', '16')
    .option('--max-tokens <n>', "tokens kept per text (longer texts are truncated, counted and listed); default and maximum: the model's positions")
    .option('--no-loss', 'do not compute the next-token loss (models with logits)')
    .option('--seed <n>', 'seed of the bootstrap intervals (and of --image-transform noise)', '0')
    .option('--reduce-fan-in <k>', 'partial Grams summed per reduction step', '16')
    .option('--heartbeat-seconds <s>', 'seconds without a heartbeat before a shard attempt counts as lost and is retried elsewhere', '120')
    .option('--store <uri>', 'results store: file://DIR, a folder, or s3://bucket/prefix (default: <state>/store)')
    .option('--temporal <host:port>', 'use this Temporal server (workers must be running: `entroscope worker`); default $TEMPORAL_ADDRESS, else an embedded dev server')
    .option('--namespace <ns>', 'Temporal namespace', defaults.namespace())
    .option('--parallel <shards>', 'shards extracting at once', '8')
    .option('--parallel-chunks <n>', 'chunk workflows (~256 shards each) running at once, for large evaluations', '4')
    .option('--state-dir <dir>', 'embedded dev server database and default store', defaults.stateDir())
    .option('--form <form>', 'image-text rows (multimodal models): plain ({image, text}), llava (detail_23k conversations), ccSbu (cc_sbu_align captions); default: told from the first row')
    .option('--image-field <name>', 'plain image-text rows: field holding the image path or s3:// URI (default: image)')
    .option('--image-root <dir>', 'folder or s3:// prefix that relative image paths are resolved against (default: the dataset\'s folder)')
    .option('--allow-absolute-images', 'let rows name absolute image paths and s3:// URIs outside the dataset\'s folder / --image-root')
    .option('--image-transform <t>', 'perturb every image (rotate90|rotate180|grayscale|noise) and report it beside the clean run')
    .option('--noise-sigma <s>', 'standard deviation of --image-transform noise, on the 0–255 scale', '25')
    .option('--allow-mixed-versions', 'resume even though finished shards were extracted with other entroscope/onnxruntime versions')
    .option('--json', 'print the result as one JSON object');
  executionProviderOption(cmd, true)
    .action(async (opts: RunOptions & { executionProvider?: string }) => {
      applyExecutionProvider(opts, true);
      const { run, printResult } = await import('../actions/run.ts');
      const result = await run(opts);
      if (opts.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      else printResult(result);
    });
}

