// `entroscope export HF_DIR -o OUT`: a Hugging Face checkpoint folder → an ONNX model folder entroscope
// reads, exported by optimum in the project's Python environment (src/model/hfExport.ts).
import type { Command } from 'commander';

interface ExportOptions {
  output: string;
  task?: string;
  json?: boolean;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export a Hugging Face checkpoint folder to ONNX with optimum (installs torch + optimum on first use)')
    .argument('<hf-dir>', 'checkpoint folder: config.json, weights (.safetensors/.bin), tokenizer files')
    .requiredOption('-o, --output <dir>', 'folder to write the ONNX model to (replaced)')
    .option('--task <task>', 'optimum task (default: text-generation-with-past for causal LMs, else feature-extraction)')
    .option('--json', 'print the export record as one JSON object')
    .action(async (hfDir: string, opts: ExportOptions) => {
      const { exportHfCheckpoint } = await import('../../src/model/hfExport.ts');
      const info = await exportHfCheckpoint(hfDir, opts.output, opts.task ? { task: opts.task } : {});
      if (opts.json) process.stdout.write(JSON.stringify({ output: opts.output, ...info }, null, 2) + '\n');
      else process.stdout.write(`exported ${info.source} (${info.task}) to ${opts.output}; checkpoint sha256 ${info.sourceSha256}\n`);
    });
}
