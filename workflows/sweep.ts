// sweepWorkflow: every model × every dataset of a sweep spec.
//
// Started by `entroscope sweep` or by a Temporal Schedule (`entroscope schedule create`). One child
// evaluationWorkflow per model × dataset, with IDs derived from the sweep's ID, at most
// `concurrency.evaluations` at once; a failed evaluation is recorded (with its reason) and the others
// go on. Then the fits, report and manifest. Re-running the same spec (`entroscope resume`) reuses
// every finished shard from the store.
import { defineQuery, executeChild, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import type { SweepEvaluation, SweepOutputs } from '../activities/sweep.ts';
import type { SweepSpec } from '../src/sweep/sweepSpec.ts';
import { evaluationWorkflow, twinWorkflowId } from './evaluation.ts';
import { TASK_QUEUES } from './taskQueues.ts';

// ---- types -------------------------------------------------------------------------------------

export interface SweepInput {
  /** Validated at the edge (parseSweepSpec). */
  spec: SweepSpec;
}

export interface SweepResult extends SweepOutputs {
  sweepId: string;
  evaluations: SweepEvaluation[];
}

export interface SweepProgress {
  phase: 'evaluating' | 'reporting' | 'done';
  evaluations: SweepEvaluation[];
}

// ---- queries -----------------------------------------------------------------------------------

export const sweepProgressQuery = defineQuery<SweepProgress>('sweepProgress');

// ---- activities --------------------------------------------------------------------------------

const { finishSweep } = proxyActivities<typeof activities>({
  taskQueue: TASK_QUEUES.reduction,
  startToCloseTimeout: '1 hour',
  retry: { maximumAttempts: 10, nonRetryableErrorTypes: ['InputError'] },
});

// ---- helpers -----------------------------------------------------------------------------------

function causeMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  let msg = e?.message ?? String(err);
  while (e?.cause) {
    e = e.cause as { message?: string; cause?: unknown };
    if (e?.message) msg = e.message;
  }
  return msg;
}

// ---- workflow ----------------------------------------------------------------------------------

export async function sweepWorkflow(input: SweepInput): Promise<SweepResult> {
  const { spec } = input;
  const sweepId = workflowInfo().workflowId;
  const evaluations: SweepEvaluation[] = [];
  // Each model with each dataset; hidden states without datasets are their own evaluation.
  type Pair = { m: SweepSpec['models'][number]; i: number; j: number; d?: SweepSpec['datasets'][number] };
  const pairs: Pair[] = spec.models.flatMap((m, i): Pair[] => (spec.datasets.length === 0 ? [{ m, i, j: 0 }] : spec.datasets.map((d, j) => ({ m, i, j, d }))));
  for (const { m, i, j, d } of pairs) {
    const dataset = d ? (d.imageTransform && d.imageTransform !== 'none' ? `${d.data} (${d.imageTransform})` : d.data) : m.hiddenStates!;
    const workflowId = `${sweepId}/m${i}-d${j}`;
    evaluations.push({
      workflowId,
      model: m.name ?? m.model ?? m.hiddenStates!,
      dataset,
      status: 'pending',
      // Known up front, so progress readers count the twin's shards while it runs.
      ...(spec.diffErank ? { twinWorkflowId: twinWorkflowId(workflowId, spec.untrainSeed) } : {}),
    });
  }
  const progress: SweepProgress = { phase: 'evaluating', evaluations };
  setHandler(sweepProgressQuery, () => progress);

  let next = 0;
  const runOne = async (): Promise<void> => {
    while (next < evaluations.length) {
      const k = next++;
      const e = evaluations[k];
      const { m, d } = pairs[k];
      e.status = 'running';
      try {
        const r = await executeChild(evaluationWorkflow, {
          workflowId: e.workflowId,
          args: [
            {
              spec: {
                ...(m.hiddenStates
                  ? {
                      hiddenStates: {
                        uri: m.hiddenStates,
                        format: m.hiddenStatesFormat,
                        layerIds: m.hiddenStatesLayerIds,
                        blocks: m.hiddenStatesBlocks,
                        untrained: m.hiddenStatesUntrained,
                      },
                    }
                  : { model: m.model }),
                ...(m.name ? { modelName: m.name } : {}),
                family: m.family,
                params: m.params,
                ...(d ?? {}),
                store: spec.store,
                layers: spec.layers,
                loss: spec.loss,
                diffErank: spec.diffErank,
                untrainSeed: spec.untrainSeed,
                shardSize: spec.shardSize,
                batchSize: spec.batchSize,
                maxTokens: spec.maxTokens,
                reduceFanIn: spec.reduceFanIn,
                seed: spec.seed,
                heartbeatSeconds: spec.heartbeatSeconds,
                maxRecordBytes: spec.maxRecordBytes,
                allowMixedVersions: spec.allowMixedVersions,
                maxParallelShards: spec.concurrency.shards,
                maxParallelChunks: spec.concurrency.chunks,
              },
            },
          ],
        });
        e.status = 'completed';
        e.prefix = r.prefix;
        e.shardsTotal = r.shardsTotal;
        e.shardsComputed = r.shardsExtracted;
        e.summaryKey = r.summaryKey;
        if (r.twin) {
          e.twinShardsTotal = r.twin.shardsTotal;
          e.twinShardsComputed = r.twin.shardsExtracted;
        }
      } catch (err) {
        e.status = 'failed';
        e.error = causeMessage(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.concurrency.evaluations, evaluations.length) }, runOne));

  progress.phase = 'reporting';
  const outputs = await finishSweep({ spec, sweepId, evaluations });
  progress.phase = 'done';
  return { sweepId, evaluations, ...outputs };
}
