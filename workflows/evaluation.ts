// evaluationWorkflow: one model × one dataset.
//
// Started by `entroscope run` (and later by a sweep as a child). It plans shards, fans extraction
// out over them in a bounded sliding window, reduces the partial Grams in a tree of fan-in k, and
// summarises. Work already in the store is skipped, so re-running the same evaluation — or resuming
// one that died — recomputes nothing that is finished.
import { ApplicationFailure, condition, defineQuery, proxyActivities, setHandler, startChild, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import type { EvaluationSpecInput } from '../src/eval/evaluationSpec.ts';
import type { EvaluationSummary } from '../src/eval/summary.ts';
import { TASK_QUEUES } from './taskQueues.ts';

// ---- types -------------------------------------------------------------------------------------

export interface EvaluationInput {
  spec: EvaluationSpecInput;
}

export interface EvaluationResult {
  storeUri: string;
  /** Store key prefix of every output of this evaluation. */
  prefix: string;
  summaryUri: string;
  summary: EvaluationSummary;
  shardsTotal: number;
  /** Shards extracted by this run (the rest were already in the store). */
  shardsExtracted: number;
}

export interface EvaluationProgress {
  phase: 'planning' | 'extracting' | 'reducing' | 'summarising' | 'done';
  shardsTotal: number;
  shardsDone: number;
  shardsReused: number;
  samples: number;
  tokens: number;
}

// ---- queries -----------------------------------------------------------------------------------

export const progressQuery = defineQuery<EvaluationProgress>('progress');

// ---- activities --------------------------------------------------------------------------------

const nonRetryableErrorTypes = ['InputError'];

const { planShards, prepareUntrainedTwin } = proxyActivities<typeof activities>({
  taskQueue: TASK_QUEUES.extraction,
  startToCloseTimeout: '30 minutes',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes },
});

const { extractShard } = proxyActivities<typeof activities>({
  taskQueue: TASK_QUEUES.extraction,
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 20, nonRetryableErrorTypes },
});

const { reduceGrams, summarize } = proxyActivities<typeof activities>({
  taskQueue: TASK_QUEUES.reduction,
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 20, nonRetryableErrorTypes },
});

// ---- helpers -----------------------------------------------------------------------------------

/** Runs `run(i)` for each item with at most `window` in flight; fails on the first failure. */
async function slidingWindow<T>(items: T[], window: number, run: (item: T) => Promise<void>): Promise<void> {
  let inFlight = 0;
  let failure: unknown;
  let hasFailed = false;
  const running: Promise<void>[] = [];
  for (const item of items) {
    await condition(() => inFlight < window || hasFailed);
    if (hasFailed) break;
    inFlight++;
    running.push(
      run(item).then(
        () => void inFlight--,
        (err: unknown) => {
          inFlight--;
          if (!hasFailed) {
            hasFailed = true;
            failure = err;
          }
        },
      ),
    );
  }
  await Promise.all(running);
  if (hasFailed) throw failure;
}

// ---- workflow ----------------------------------------------------------------------------------

export async function evaluationWorkflow(input: EvaluationInput): Promise<EvaluationResult> {
  if (!input?.spec) throw ApplicationFailure.nonRetryable('evaluationWorkflow needs { spec }', 'InputError');
  const progress: EvaluationProgress = { phase: 'planning', shardsTotal: 0, shardsDone: 0, shardsReused: 0, samples: 0, tokens: 0 };
  setHandler(progressQuery, () => progress);

  const plan = await planShards(input.spec);

  // Diff-eRank: the untrained twin is evaluated as a child workflow, in parallel with this one.
  const twin = input.spec.diffErank
    ? (async () => {
        const seed = input.spec.untrainSeed ?? 0;
        const { model } = await prepareUntrainedTwin({ model: input.spec.model, seed });
        const child = await startChild(evaluationWorkflow, {
          workflowId: `${workflowInfo().workflowId}/untrained-seed${seed}`,
          args: [{ spec: { ...input.spec, model, diffErank: false, family: undefined, params: undefined } }],
        });
        return child.result();
      })()
    : undefined;
  // Handled below by `await twin`; marked handled now so a failure while we extract is not "unhandled".
  twin?.catch(() => undefined);
  const pending = plan.pending.flatMap(([a, b]) => Array.from({ length: b - a }, (_, i) => a + i));
  progress.shardsTotal = plan.shardCount;
  progress.shardsReused = plan.shardCount - pending.length;
  progress.shardsDone = progress.shardsReused;
  progress.phase = 'extracting';

  const window = input.spec.maxParallelShards ?? 8;
  await slidingWindow(pending, window, async (shard) => {
    const r = await extractShard({ storeUri: plan.storeUri, prefix: plan.prefix, shard });
    progress.shardsDone++;
    progress.samples += r.samples;
    progress.tokens += r.tokens;
  });

  progress.phase = 'reducing';
  const fanIn = input.spec.reduceFanIn ?? 16;
  const grams: Record<string, string> = {};
  for (const layer of plan.layers) {
    let nodes = plan.shardCount;
    let level = 0;
    do {
      level++;
      const count = Math.ceil(nodes / fanIn);
      const indices = Array.from({ length: count }, (_, i) => i);
      await slidingWindow(indices, window, async (index) => {
        grams[layer] = await reduceGrams({ storeUri: plan.storeUri, prefix: plan.prefix, layer, level, index, fanIn });
      });
      nodes = count;
    } while (nodes > 1);
  }

  const untrained = twin
    ? (await twin).summary.layers.map((l) => ({ layer: l.layer, erankOfMeanEntropy: l.metrics.erankOfMeanEntropy, meanLoss: l.meanLoss }))
    : undefined;

  progress.phase = 'summarising';
  const { summaryUri, summary } = await summarize({ storeUri: plan.storeUri, prefix: plan.prefix, grams, untrained });
  progress.phase = 'done';
  return { storeUri: plan.storeUri, prefix: plan.prefix, summaryUri, summary, shardsTotal: plan.shardCount, shardsExtracted: pending.length };
}
