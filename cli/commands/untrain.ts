// `entroscope untrain MODEL --seed S -o OUT`: the untrained twin of a model (src/model/untrain.ts):
// the same graph with weights re-initialised as Hugging Face does by default, from a recorded seed,
// for Diff-eRank and reduced loss (DESIGN §1 steps 7–8). The tokenizer is copied beside it.
import type { Command } from 'commander';
import { InputError } from '../../src/errors.ts';

interface UntrainOptions {
  seed: string;
  out: string;
  json?: boolean;
}

export function registerUntrain(program: Command): void {
  program
    .command('untrain')
    .description('write the untrained twin of a model: same graph, weights re-initialised from a recorded seed')
    .argument('<model>', 'model folder (model.onnx + tokenizer.json) or .onnx file')
    .requiredOption('--seed <n>', 'random seed (integer 0…4294967295); the same seed gives the same bytes')
    .requiredOption('-o, --out <path>', 'output folder (model.onnx + tokenizer.json) or .onnx file')
    .option('--json', 'print one JSON object')
    .action(async (model: string, opts: UntrainOptions) => {
      const seed = Number(opts.seed);
      if (!/^\d+$/.test(opts.seed) || seed > 0xffffffff) throw new InputError(`--seed must be an integer in 0…4294967295, got "${opts.seed}"`);
      const { untrainFiles } = await import('../../src/model/untrain.ts');
      const r = await untrainFiles(model, opts.out, seed);
      if (opts.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        return;
      }
      process.stdout.write(
        `wrote ${r.onnxPath}${r.tokenizerPath ? ` (+ ${r.tokenizerPath})` : ''}\n` +
          `seed ${r.seed}: ${r.parameters} parameters re-initialised — ${r.counts.normal} tensors normal(0, 0.02), ` +
          `${r.counts.ones} ones, ${r.counts.zeros} zeros, ${r.counts.kept} kept\n`,
      );
    });
}
