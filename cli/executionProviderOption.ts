// `--execution-provider`: the onnxruntime provider of the worker this command starts. It is a
// worker's setting (the machine's), so `run`/`sweep`/`resume` take it only for their embedded
// worker; against a cluster the workers are started with `entroscope worker --execution-provider`.
import type { Command } from 'commander';
import { EXECUTION_PROVIDER_ENV } from '../src/model/executionProvider.ts';

export const EXECUTION_PROVIDER_HELP = `onnxruntime execution provider of the worker: cpu (default), cuda, tensorrt, webgpu … (or $${EXECUTION_PROVIDER_ENV}); checked at start-up, recorded per shard`;

export function executionProviderOption(cmd: Command, embeddedOnly: boolean): Command {
  return cmd.option('--execution-provider <name>', embeddedOnly ? `${EXECUTION_PROVIDER_HELP}; embedded worker only` : EXECUTION_PROVIDER_HELP);
}

/** Sets the provider for the worker this process starts (pool threads inherit the environment). */
export function applyExecutionProvider(opts: { executionProvider?: string; temporal?: string }, embeddedOnly: boolean): void {
  if (opts.executionProvider === undefined) return;
  if (embeddedOnly && (opts.temporal ?? process.env.TEMPORAL_ADDRESS)) {
    throw new Error(
      `--execution-provider sets the embedded worker's provider, but this command uses the Temporal server at ${opts.temporal ?? process.env.TEMPORAL_ADDRESS}, ` +
        `whose workers choose their own: start them with \`entroscope worker --execution-provider ${opts.executionProvider}\``,
    );
  }
  process.env[EXECUTION_PROVIDER_ENV] = opts.executionProvider.trim().toLowerCase();
}
