// The `entroscope` command.
import { createRequire } from 'node:module';
import type { Command as CommandType } from 'commander';
import { registerCompare } from './commands/compare.ts';
import { registerExport } from './commands/export.ts';
import { registerLayers } from './commands/layers.ts';
import { registerReport } from './commands/report.ts';
import { registerRun } from './commands/run.ts';
import { registerSpectrum } from './commands/spectrum.ts';
import { registerUntrain } from './commands/untrain.ts';
import { registerWorker } from './commands/worker.ts';
import { registerSweep } from './commands/sweep.ts';
import { userMessage } from './errors.ts';
import { nativeLoadsSettled } from '../src/linalg/nativeLoading.ts';

// commander through require: importing a CommonJS package from ESM first parses it for its exports
// (~40 ms of every start, `--help` included).
const { Command } = createRequire(import.meta.url)('commander') as { Command: typeof CommandType };

const program = new Command()
  .name('entroscope')
  .description('Evaluate language models by the matrix entropy of their hidden representations.')
  .showHelpAfterError();

registerRun(program);
registerWorker(program);
registerSweep(program);
registerSpectrum(program);
registerLayers(program);
registerUntrain(program);
registerReport(program);
registerCompare(program);
registerExport(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const message = userMessage(err);
  process.stderr.write(`entroscope: error: ${message}\n`);
  // `--json` promises one JSON document on stdout, failures included, so `| jq` always parses.
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify({ error: { message } }, null, 2) + '\n');
  process.exitCode = 1;
}
// Native handles (ORT threads, Temporal core) may linger; the command's work is done. A helper
// thread still loading koffi would abort the process if it exited now (nativeLoading.ts).
await nativeLoadsSettled();
process.exit(process.exitCode ?? 0);
