// `entroscope spectrum`: DESIGN §1 metrics of hidden states already on disk, no model or Temporal
// (the work is in cli/actions/spectrum.ts, loaded only when the command runs).
import type { Command } from 'commander';
import type { SpectrumOptions } from '../actions/spectrum.ts';

export function registerSpectrum(program: Command): void {
  program
    .command('spectrum')
    .description('matrix entropy of hidden states on disk (.npy or Arrow IPC); several files or a folder add dataset aggregates')
    .argument('<files...>', '.npy / .arrow files, or folders of them')
    .option('--alpha <list>', 'Rényi orders to report, comma-separated (e.g. 0.5,2)', '2')
    .option('--layer-axis <i>', '3-D .npy arrays (layers × tokens × hidden): use layer i (0-based)')
    .option('--layer <i>', 'the same as --layer-axis')
    .option('--json', 'print one JSON object')
    .option('--spectrum', 'also print the eigenvalues p (descending)')
    .action(async (paths: string[], opts: SpectrumOptions) => {
      const { spectrum } = await import('../actions/spectrum.ts');
      spectrum(paths, opts);
    });
}

