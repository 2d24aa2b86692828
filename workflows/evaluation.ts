// evaluationWorkflow: one model × one dataset.
//
// Started by `entroscope run` (and later by a sweep as a child). It plans shards, fans extraction
// out over them in a bounded sliding window, reduces the partial Grams in a tree of fan-in k, and
// summarises. Work already in the store is skipped, so re-running the same evaluation — or resuming
// one that died — recomputes nothing that is finished.
import { ApplicationFailure, condition, defineQuery, patched, proxyActivities, setHandler, startChild, workflowInfo } from '@temporalio/workflow';
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
  /** This run's folder under the prefix, `runs/<run>/` (plan, summary, manifest). */
  run: string;
  summaryUri: string;
  /** results.json beside summary.json, in lm-evaluation-harness's layout. */
  resultsUri?: string;
  /** Key of summary.json in the store. */
  summaryKey: string;
  summary: EvaluationSummary;
  shardsTotal: number;
  /** Shards extracted by this run (the rest were already in the store). */
  shardsExtracted: number;
  /** The untrained twin's evaluation (Diff-eRank): its workflow ID and shard counts. */
  twin?: { workflowId: string; shardsTotal: number; shardsExtracted: number };
}

export interface EvaluationProgress {
  phase: 'planning' | 'extracting' | 'reducing' | 'summarising' | 'done';
  shardsTotal: number;
  shardsDone: number;
  shardsReused: number;
  samples: number;
  tokens: number;
  /**
   * Chunk workflows (large evaluations) started and not yet counted above. Their shards done so far
   * are in each one's `chunkProgress` query: done = shardsDone + Σ running chunks' `extracted`. A chunk
   * leaves this list in the same workflow task that adds its result above, so the sum never drops.
   */
  runningChunks: string[];
}

// ---- queries -----------------------------------------------------------------------------------

export const progressQuery = defineQuery<EvaluationProgress>('progress');
/** A chunk's shards extracted so far (a closed chunk answers with its final result). */
export const chunkProgressQuery = defineQuery<ChunkResult>('chunkProgress');

// ---- activities --------------------------------------------------------------------------------

const nonRetryableErrorTypes = ['InputError'];

/** Planning and the untrained twin; they heartbeat, so a dead worker's task moves on as a shard's does. */
function preparation(heartbeatSeconds: number) {
  return proxyActivities<typeof activities>({
    taskQueue: TASK_QUEUES.extraction,
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: `${heartbeatSeconds} seconds`,
    retry: { maximumAttempts: 5, nonRetryableErrorTypes },
  });
}

/** Extraction, with the heartbeat timeout the spec asks for: how soon a dead worker's shard moves on. */
function extraction(heartbeatSeconds: number) {
  return proxyActivities<typeof activities>({
    taskQueue: TASK_QUEUES.extraction,
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: `${heartbeatSeconds} seconds`,
    retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 20, nonRetryableErrorTypes },
  }).extractShard;
}

/** Reductions and the summary; they heartbeat every second (at least 10 s before a dead worker's task moves on). */
function reduction(heartbeatSeconds: number) {
  return proxyActivities<typeof activities>({
    taskQueue: TASK_QUEUES.reduction,
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: `${Math.max(10, heartbeatSeconds)} seconds`,
    retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 20, nonRetryableErrorTypes },
  });
}

// ---- helpers -----------------------------------------------------------------------------------

/** The untrained twin's child workflow ID (Diff-eRank), derived from its evaluation's. */
export function twinWorkflowId(evaluationId: string, untrainSeed: number): string {
  return `${evaluationId}/untrained-seed${untrainSeed}`;
}

/** Runs `run(i)` for each item with at most `window` in flight; fails on the first failure. */
/**
 * How many layers reduce side by side: each layer's tree is independent, and one after another a
 * 32-layer `--layers all` run spent ~9 s of round trips on ~100 short reductions. Histories begun
 * before this change reduced one layer at a time (window 1: the same commands in the same order),
 * so they replay unchanged.
 */
function layerWindow(window: number): number {
  return patched('reduce-layers-side-by-side') ? window : 1;
}

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

// ---- scale: chunks of shards -------------------------------------------------------------------
//
// A Temporal history holds at most 51,200 events and 2,000 pending activities or children. So an
// evaluation extracts at most CHUNK = k^m shards in its own history (k = the reduction fan-in,
// k^m ≥ 256); larger ones hand each chunk to a child `extractChunkWorkflow`, which extracts its
// shards and reduces their partials up to level m of the same global tree. The parent then only
// reduces the chunks' nodes. 100,000 shards → 391 children of ≤ ~2,000 events each.

const MIN_CHUNK_SHARDS = 256;

/** Levels m (and chunk size k^m) a chunk reduces by itself. */
export function chunkLevels(fanIn: number): { levels: number; chunkShards: number } {
  let levels = 1;
  let chunkShards = fanIn;
  while (chunkShards < MIN_CHUNK_SHARDS) {
    levels++;
    chunkShards *= fanIn;
  }
  return { levels, chunkShards };
}

function expand(ranges: Array<[number, number]>, from: number, to: number): number[] {
  const out: number[] = [];
  for (const [a, b] of ranges) for (let i = Math.max(a, from); i < Math.min(b, to); i++) out.push(i);
  return out;
}

export interface ChunkInput {
  storeUri: string;
  prefix: string;
  run: string;
  allowMixedVersions: boolean;
  layers: string[];
  shardCount: number;
  /** Shards [first, last) of the evaluation. */
  first: number;
  last: number;
  /** Shards of the chunk still to extract (the rest are in the store). */
  pending: number[];
  /** Reduction levels to build (1..levels), fan-in k. */
  levels: number;
  fanIn: number;
  window: number;
  heartbeatSeconds: number;
}

export interface ChunkResult {
  extracted: number;
  samples: number;
  tokens: number;
  /**
   * When the chunk is the whole evaluation: each layer's root (in `layers` order), the first level
   * of its tree with one node. Absent for the chunks of a large evaluation and in histories begun
   * before the tree stopped there.
   */
  roots?: string[];
}

/** Extracts a chunk's pending shards (sliding window), then reduces levels 1..levels over it. */
async function extractAndReduce(input: ChunkInput, onShard: (r: { samples: number; tokens: number }) => void): Promise<ChunkResult> {
  const result: ChunkResult = { extracted: 0, samples: 0, tokens: 0 };
  const extractShard = extraction(input.heartbeatSeconds);
  const { reduceGrams } = reduction(input.heartbeatSeconds);
  await slidingWindow(input.pending, input.window, async (shard) => {
    const r = await extractShard({ storeUri: input.storeUri, prefix: input.prefix, run: input.run, shard, allowMixedVersions: input.allowMixedVersions });
    result.extracted++;
    result.samples += r.samples;
    result.tokens += r.tokens;
    onShard(r);
  });
  // A chunk that is the whole evaluation stops at the first level with one node: that node is the
  // root, and each level above it would only copy its one input (3 reductions per layer instead of
  // 1 for ≤ k shards: ~100 activities for a 32-layer run). A chunk of a large evaluation builds
  // every level up to m, where the parent takes over. Histories begun before this change built up
  // to m and asked for the root again; they replay unchanged.
  const whole = input.first === 0 && input.last === input.shardCount && patched('single-chunk-tree-stops-at-root');
  const roots: string[] = new Array(input.layers.length);
  await slidingWindow(input.layers.map((layer, l) => ({ layer, l })), layerWindow(input.window), async ({ layer, l }) => {
    let width = 1; // shards per node at the current level
    for (let level = 1; level <= input.levels; level++) {
      width *= input.fanIn;
      const firstNode = Math.floor(input.first / width);
      const lastNode = Math.ceil(input.last / width);
      const nodes = Array.from({ length: lastNode - firstNode }, (_, i) => firstNode + i);
      let key = '';
      await slidingWindow(nodes, input.window, async (index) => {
        key = await reduceGrams({ storeUri: input.storeUri, prefix: input.prefix, run: input.run, layer, level, index, fanIn: input.fanIn });
      });
      if (whole && nodes.length === 1) {
        roots[l] = key;
        return;
      }
    }
  });
  return whole && roots.every((r) => typeof r === 'string') ? { ...result, roots } : result;
}

/**
 * A chunk of a large evaluation, started by evaluationWorkflow; see the section comment above. Its
 * shard count is a query, not a signal to the parent: per-shard signals would fill the parent's history.
 */
export async function extractChunkWorkflow(input: ChunkInput): Promise<ChunkResult> {
  const done: ChunkResult = { extracted: 0, samples: 0, tokens: 0 };
  setHandler(chunkProgressQuery, () => done);
  return extractAndReduce(input, (r) => {
    done.extracted++;
    done.samples += r.samples;
    done.tokens += r.tokens;
  });
}

// ---- workflow ----------------------------------------------------------------------------------

export async function evaluationWorkflow(input: EvaluationInput): Promise<EvaluationResult> {
  if (!input?.spec) throw ApplicationFailure.nonRetryable('evaluationWorkflow needs { spec }', 'InputError');
  const progress: EvaluationProgress = { phase: 'planning', shardsTotal: 0, shardsDone: 0, shardsReused: 0, samples: 0, tokens: 0, runningChunks: [] };
  setHandler(progressQuery, () => progress);

  const { planShards, prepareUntrainedTwin } = preparation(input.spec.heartbeatSeconds ?? 120);
  const { reduceGrams, summarize } = reduction(input.spec.heartbeatSeconds ?? 120);
  const plan = await planShards(input.spec);

  // Diff-eRank: the untrained twin is evaluated as a child workflow, in parallel with this one.
  const twin = input.spec.diffErank
    ? (async () => {
        const seed = input.spec.untrainSeed ?? 0;
        const hs = input.spec.hiddenStates;
        if (hs) {
          // Precomputed states: the twin's states were computed elsewhere too (planning refused a spec without them).
          const child = await startChild(evaluationWorkflow, {
            workflowId: `${workflowInfo().workflowId}/untrained-states`,
            args: [{ spec: { ...input.spec, hiddenStates: { ...hs, uri: hs.untrained!, untrained: undefined }, maxTokens: plan.maxTokens, diffErank: false, untrainedTwin: true, family: undefined, params: undefined } }],
          });
          return child.result();
        }
        // Written to the store (keyed by source hash, seed, init rule) and fetched by URI like any model.
        const { model } = await prepareUntrainedTwin({ model: input.spec.model!, seed, store: plan.storeUri });
        const child = await startChild(evaluationWorkflow, {
          workflowId: twinWorkflowId(workflowInfo().workflowId, seed),
          // The trained model's token limit: the twin's folder may lack the config.json that told it.
          args: [{ spec: { ...input.spec, model, maxTokens: plan.maxTokens, diffErank: false, untrainedTwin: true, family: undefined, params: undefined } }],
        });
        return child.result();
      })()
    : undefined;
  // Handled below by `await twin`; marked handled now so a failure while we extract is not "unhandled".
  twin?.catch(() => undefined);

  const pendingCount = plan.pending.reduce((a, [x, y]) => a + y - x, 0);
  progress.shardsTotal = plan.shardCount;
  progress.shardsReused = plan.shardCount - pendingCount;
  progress.shardsDone = progress.shardsReused;
  progress.phase = 'extracting';

  const window = input.spec.maxParallelShards ?? 8;
  const fanIn = input.spec.reduceFanIn ?? 16;
  const { levels, chunkShards } = chunkLevels(fanIn);
  const chunkCount = Math.ceil(plan.shardCount / chunkShards);
  const chunkInput = (c: number): ChunkInput => {
    const first = c * chunkShards;
    const last = Math.min(first + chunkShards, plan.shardCount);
    const heartbeatSeconds = input.spec.heartbeatSeconds ?? 120;
    const base = {
      storeUri: plan.storeUri,
      prefix: plan.prefix,
      run: plan.run,
      allowMixedVersions: input.spec.allowMixedVersions ?? false,
      layers: plan.layers,
      shardCount: plan.shardCount,
      levels,
      fanIn,
      window,
      heartbeatSeconds,
    };
    return { ...base, first, last, pending: expand(plan.pending, first, last) };
  };
  const count = (r: { samples: number; tokens: number }, shards: number): void => {
    progress.shardsDone += shards;
    progress.samples += r.samples;
    progress.tokens += r.tokens;
  };
  let shardsExtracted = 0;
  let chunkRoots: string[] | undefined;
  if (chunkCount === 1) {
    const r = await extractAndReduce(chunkInput(0), (s) => count(s, 1));
    shardsExtracted = r.extracted;
    chunkRoots = r.roots;
  } else {
    const chunks = Array.from({ length: chunkCount }, (_, c) => c);
    await slidingWindow(chunks, input.spec.maxParallelChunks ?? 4, async (c) => {
      const workflowId = `${workflowInfo().workflowId}/chunk-${c}`;
      const child = await startChild(extractChunkWorkflow, { workflowId, args: [chunkInput(c)] });
      progress.runningChunks.push(workflowId);
      const drop = () => progress.runningChunks.splice(progress.runningChunks.indexOf(workflowId), 1);
      let r: ChunkResult;
      try {
        r = await child.result();
      } catch (err) {
        drop();
        throw err;
      }
      // Counted and dropped together: a progress reader sees the chunk in one place or the other.
      drop();
      shardsExtracted += r.extracted;
      count(r, r.extracted);
    });
  }

  // The chunks left one node each at level m; reduce those up to the root.
  progress.phase = 'reducing';
  const roots: string[] = chunkRoots ?? new Array(plan.layers.length);
  if (!chunkRoots) await slidingWindow(plan.layers.map((layer, l) => ({ layer, l })), layerWindow(window), async ({ layer, l }) => {
    let nodes = chunkCount;
    let level = levels;
    while (nodes > 1) {
      level++;
      const next = Math.ceil(nodes / fanIn);
      const indices = Array.from({ length: next }, (_, i) => i);
      await slidingWindow(indices, window, (index) =>
        reduceGrams({ storeUri: plan.storeUri, prefix: plan.prefix, run: plan.run, layer, level, index, fanIn }).then(() => undefined),
      );
      nodes = next;
    }
    // The root, already built: the call (idempotent) returns its key.
    roots[l] = await reduceGrams({ storeUri: plan.storeUri, prefix: plan.prefix, run: plan.run, layer, level, index: 0, fanIn });
  });
  // In layer order, whatever order the reductions finished in.
  const grams: Record<string, string> = {};
  plan.layers.forEach((layer, l) => (grams[layer] = roots[l]));

  const twinResult = twin ? await twin : undefined;
  const untrained = twinResult?.summary.layers.map((l) => ({ layer: l.layer, erankOfMeanEntropy: l.metrics.erankOfMeanEntropy, meanLoss: l.meanLoss }));

  progress.phase = 'summarising';
  const { summaryUri, summaryKey, summary, resultsUri } = await summarize({ storeUri: plan.storeUri, prefix: plan.prefix, run: plan.run, grams, untrained });
  progress.phase = 'done';
  return { storeUri: plan.storeUri, prefix: plan.prefix, run: plan.run, summaryUri, resultsUri, summaryKey, summary, shardsTotal: plan.shardCount, shardsExtracted,
    ...(twinResult ? { twin: { workflowId: twinWorkflowId(workflowInfo().workflowId, input.spec.untrainSeed ?? 0), shardsTotal: twinResult.shardsTotal, shardsExtracted: twinResult.shardsExtracted } } : {}),
  };
}
