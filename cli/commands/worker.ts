// `entroscope worker`: a long-running worker process for a Temporal cluster.
import type { Command } from 'commander';
import { ALL_ROLES, type QueueRole } from '../../workflows/taskQueues.ts';
import { defaults } from '../defaults.ts';
import { applyExecutionProvider, EXECUTION_PROVIDER_HELP } from '../executionProviderOption.ts';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run a worker: polls the orchestration, extraction and reduction task queues')
    .option('--temporal <host:port>', 'Temporal server (default $TEMPORAL_ADDRESS, else 127.0.0.1:7233)')
    .option('--namespace <ns>', 'Temporal namespace', defaults.namespace())
    .option('--queues <list>', `comma-separated roles: ${ALL_ROLES.join(',')}`, ALL_ROLES.join(','))
    .option('--extraction-concurrency <n>', 'extraction activities at once (default: cores / intra-op threads)')
    .option('--execution-provider <name>', EXECUTION_PROVIDER_HELP)
    .action(async (opts: { temporal?: string; namespace: string; queues: string; extractionConcurrency?: string; executionProvider?: string }) => {
      applyExecutionProvider(opts, false);
      const roles = opts.queues.split(',').map((q) => q.trim()).filter(Boolean);
      const bad = roles.filter((r) => !(ALL_ROLES as string[]).includes(r));
      if (bad.length) throw new Error(`unknown queue role(s): ${bad.join(', ')} (known: ${ALL_ROLES.join(', ')})`);
      // Loaded here, not at start-up: other commands need neither Temporal's worker nor ONNX.
      const { quietTemporalRuntime } = await import('../runtime.ts');
      const { startWorkers } = await import('../../workers/worker.ts');
      quietTemporalRuntime();
      const address = opts.temporal ?? process.env.TEMPORAL_ADDRESS ?? `127.0.0.1:${defaults.temporalPort}`;
      const running = await startWorkers({
        address,
        namespace: opts.namespace,
        roles: roles as QueueRole[],
        extractionConcurrency: opts.extractionConcurrency ? Number(opts.extractionConcurrency) : undefined,
      });
      process.stderr.write(`entroscope worker: polling ${roles.join(', ')} on ${address} (namespace ${opts.namespace})\n`);
      const stop = () => void running.shutdown();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await running.done;
      await running.connection.close();
    });
}
