// Activities of one evaluation: thin adapters that read inputs by URI, call the core library,
// write outputs by URI and heartbeat. Bad input (InputError) becomes a non-retryable failure.
import { Context } from '@temporalio/activity';
import { Readable } from 'node:stream';
import { userErrorsFinal } from './userErrors.ts';
import { withHeartbeat } from './heartbeat.ts';
import { InputError } from '../src/errors.ts';
import { openStore } from '../src/store/openStore.ts';
import { getJson, putJson, type ObjectStore } from '../src/store/store.ts';
import { parseEvaluationSpec, type EvaluationSpecInput } from '../src/eval/evaluationSpec.ts';
import { keys, planEvaluation, type EvaluationPlan } from '../src/eval/plan.ts';
import { readDatasetShard } from '../src/data/dataset.ts';
import { readImageTextShard } from '../src/data/imageTextDataset.ts';
import { localModelFiles } from '../src/model/modelFetch.ts';
import { locateVlmParts, VLM_PART_FILES, type VlmPart } from '../src/multimodal/vlmConfig.ts';
import { extractionPool, sharedPool } from '../src/parallel/threadPool.ts';
import { sessionPlan } from '../src/eval/sessionPlan.ts';
import { modelIdentity } from '../src/model/externalData.ts';
import { checkRuntime, extractionRuntime, workerIdentity, type ShardRuntime } from '../src/eval/extractionRuntime.ts';
import { checkFileHash, checkModelHash, checkShardTexts } from '../src/eval/verifyShardInputs.ts';
import { PromiseCache } from '../src/parallel/promiseCache.ts';
import { sampleMetricsOfRow, samplesFromArrow, samplesToArrow, type SampleRow } from '../src/arrow/sampleTable.ts';
import { alignmentFromRows } from '../src/multimodal/alignmentSummary.ts';
import { ERANK_PARTS } from '../src/metrics/multimodalAlignment.ts';
import { gramFromArrow, gramToArrow } from '../src/arrow/arrowGram.ts';
import { reduceGramFiles } from '../src/eval/reduceGrams.ts';
import { datasetMetrics } from '../src/metrics/datasetMetrics.ts';
import { sha256 } from '../src/io/hash.ts';
import { resultVersions } from '../src/io/versions.ts';
import { gitHash } from '../src/io/gitHash.ts';
import { evaluationResults, type ShardRuntimeCount } from '../src/report/harnessResults.ts';
import { TRUNCATED_ROWS_LISTED, type EvaluationSummary, type LayerSummary, type UntrainedLayer } from '../src/eval/summary.ts';
import { diffErank } from '../src/metrics/diffErank.ts';
import type { SampleMetrics } from '../src/metrics/sampleMetrics.ts';

/** Inclusive-exclusive runs of shard indices, so a payload stays small for 100k shards. */
export type IndexRanges = Array<[number, number]>;

export interface PlanResult {
  storeUri: string;
  prefix: string;
  /** The run's folder under the prefix (`runs/<run>/`): plan, summary, manifest. */
  run: string;
  shardCount: number;
  rows: number;
  /** Resolved hidden-state taps, in request order. */
  layers: string[];
  /** Tokens kept per text (the spec's, else the model's limit). */
  maxTokens: number;
  /** Shards that still need extraction. */
  pending: IndexRanges;
}

export interface ShardResult {
  shard: number;
  samples: number;
  skipped: number;
  tokens: number;
  inferenceMs: number;
  metricsMs: number;
}

/** Names one evaluation run's plan: `<prefix>/runs/<run>/plan.json` in the store. */
export interface PlanRef {
  storeUri: string;
  prefix: string;
  run: string;
}

export interface ReduceInput extends PlanRef {
  layer: string;
  /** 1 sums shard partials; level L sums nodes of level L − 1. */
  level: number;
  index: number;
  fanIn: number;
}

/** A file in the results, for manifests. */
export interface FileEntry {
  key: string;
  bytes: number;
  sha256: string;
}

/** The content of a shard's done.json. */
export interface ShardDone {
  shard: number;
  rows: [number, number];
  tokens: number;
  files: FileEntry[];
  /** What extracted it (versions, provider, threads, worker). */
  runtime?: ShardRuntime;
}

export interface SummaryResult {
  summaryUri: string;
  /** Its key in the store (under the run's folder). */
  summaryKey: string;
  summary: EvaluationSummary;
  /** results.json beside it (lm-evaluation-harness layout); absent from activities of older versions. */
  resultsUri?: string;
}

// Plans are content-addressed (the run is the hash of the plan), so a cached one is never stale.
const plans = new PromiseCache<EvaluationPlan>();
function loadPlan(store: ObjectStore, ref: PlanRef): Promise<EvaluationPlan> {
  return plans.get(`${store.uri}|${ref.prefix}|${ref.run}`, () => getJson<EvaluationPlan>(store, keys.plan(ref.prefix, ref.run)));
}

/** onnxruntime intra-op threads per pool thread (sessions are created with this). */
const INTRA_OP_THREADS = 1;

function toRanges(indices: number[]): IndexRanges {
  const out: IndexRanges = [];
  for (const i of indices) {
    const last = out[out.length - 1];
    if (last && last[1] === i) last[1] = i + 1;
    else out.push([i, i + 1]);
  }
  return out;
}

export async function planShards(specInput: EvaluationSpecInput): Promise<PlanResult> {
  return userErrorsFinal(() => withHeartbeat(async () => {
    let spec;
    try {
      spec = parseEvaluationSpec(specInput);
    } catch (err) {
      throw new InputError((err as Error).message);
    }
    const store = openStore(spec.store);
    const plan = await planEvaluation(spec);
    const planKey = keys.plan(plan.prefix, plan.run);
    if (!(await store.exists(planKey))) await putJson(store, planKey, plan);
    const done = new Set(await store.list(`${plan.prefix}/shards/`));
    const pending = plan.shards.flatMap((s, i) => (done.has(keys.shardDone(plan.prefix, s)) ? [] : [i]));
    // A resume that would add shards from this runtime to shards from another says so now.
    if (pending.length > 0 && pending.length < plan.shards.length) {
      const intraOp = plan.kind === 'multimodal' ? INTRA_OP_THREADS : sessionPlan((await modelIdentity(plan.model.onnxPath)).bytes).intraOpThreads;
      await checkRuntime(store, plan.prefix, extractionRuntime(intraOp), { register: false, allowMixed: spec.allowMixedVersions });
    }
    return {
      storeUri: store.uri,
      prefix: plan.prefix,
      run: plan.run,
      shardCount: plan.shards.length,
      rows: plan.dataset.rows,
      layers: plan.layers,
      maxTokens: plan.maxTokens,
      pending: toRanges(pending),
    };
  }));
}

/** Runs a check once per key per process (runtime registration: one store round trip per evaluation). */
const checkedRuntimes = new PromiseCache<void>();

/**
 * Extracts one shard: checks this worker's runtime against the evaluation's, reads the model and the
 * shard's rows and checks them against the plan's hashes, runs the model in the thread pool
 * (heartbeating; a cancellation reaches the inference loop), writes the outputs, done.json last.
 */
export async function extractShard(input: PlanRef & { shard: number; allowMixedVersions?: boolean }): Promise<ShardResult> {
  return userErrorsFinal(async () => {
    const ctx = Context.current();
    const store = openStore(input.storeUri);
    const plan = await loadPlan(store, input);
    const shard = plan.shards[input.shard];
    if (!shard) throw new InputError(`shard ${input.shard} is not in the plan (${plan.shards.length} shards)`);
    // A retry after the attempt that finished the shard was lost (its worker died between writing
    // done.json and reporting): the shard is complete in the store, so it is reused, not recomputed.
    if (ctx.info.attempt > 1 && (await store.exists(keys.shardDone(plan.prefix, shard)))) {
      const done = await getJson<ShardDone>(store, keys.shardDone(plan.prefix, shard));
      const rows = samplesFromArrow(await store.get(keys.shardSamples(plan.prefix, shard)), store.uriOf(keys.shardSamples(plan.prefix, shard)));
      return { shard: input.shard, samples: shard.rows, skipped: rows.filter((r) => r.skipped && r.layer === plan.layers[0]).length, tokens: done.tokens, inferenceMs: 0, metricsMs: 0 };
    }
    let textsDone = 0;
    // Heartbeats carry the server's cancellation back (the worker's throttle sets how soon).
    const beat = setInterval(() => ctx.heartbeat({ textsDone }), 1000);
    let out;
    let runtime = extractionRuntime(INTRA_OP_THREADS);
    let pool = sharedPool();
    try {
      // A model in S3 is fetched into this worker's cache; a local one must be at the same path here.
      const model = plan.kind === 'multimodal' || plan.kind === 'hiddenStates' ? undefined : await localModelFiles(plan.spec.model!);
      if (model) {
        const sessions = sessionPlan((await modelIdentity(model.onnxPath)).bytes);
        runtime = extractionRuntime(sessions.intraOpThreads);
        pool = extractionPool(sessions.sessions);
      }
      const allowMixed = input.allowMixedVersions === true;
      await checkedRuntimes.get(`${store.uri}|${plan.prefix}|${allowMixed}`, () => checkRuntime(store, plan.prefix, runtime, { register: true, allowMixed }));
      if (plan.kind === 'hiddenStates') {
        // The shard's tensors are read (and their bytes checked against the plan) inside the pool thread.
        const hsShard = plan.shards[input.shard];
        let texts: string[] | undefined;
        if (plan.dataset.texts && hsShard.texts) {
          texts = await readDatasetShard(plan.dataset.texts.source, hsShard.texts, { maxRecordBytes: plan.spec.maxRecordBytes });
          checkShardTexts(plan.dataset.texts.path, hsShard.texts, texts);
        }
        out = await sharedPool().run(
          'extractHiddenStatesShard',
          {
            hiddenStates: plan.hiddenStates,
            span: hsShard.span,
            startRow: hsShard.startRow,
            layers: plan.layers,
            maxTokens: plan.maxTokens,
            texts,
            textsSha256: hsShard.texts?.sha256 ?? null,
            sha256: hsShard.sha256!,
            worker: workerIdentity(),
          },
          (d) => (textsDone = d),
          ctx.cancellationSignal,
        );
      } else if (plan.kind === 'multimodal') {
        const parts = locateVlmParts(plan.multimodal.modelDir);
        for (const p of Object.keys(VLM_PART_FILES) as VlmPart[]) {
          await checkFileHash(`model part ${p}`, parts[p], plan.multimodal.parts[p], parts[p]);
        }
        // Images are read and decoded inside the pool thread, next to the model.
        const rows = await readImageTextShard(plan.dataset.source, shard, { maxRecordBytes: plan.spec.maxRecordBytes });
        out = await sharedPool().run(
          'extractMultimodalShard',
          {
            modelDir: plan.multimodal.modelDir,
            maxTokens: plan.maxTokens,
            batchSize: plan.spec.batchSize,
            intraOpThreads: INTRA_OP_THREADS,
            startRow: shard.startRow,
            rows: rows.map((r) => ({ text: r.text, imageRef: r.imageRef, where: r.where })),
            layers: plan.layers,
            imageTransform: plan.multimodal.imageTransform,
            noiseSigma: plan.multimodal.noiseSigma,
            seed: plan.spec.seed,
          },
          (d) => (textsDone = d),
          ctx.cancellationSignal,
        );
      } else {
        // What this worker reads must be what the planner hashed.
        if (!model) throw new Error('text plan without a model');
        await checkModelHash(model.onnxPath, plan.model.onnxSha256, plan.model.onnxPath);
        await checkFileHash('tokenizer', model.tokenizerPath, plan.model.tokenizerSha256, plan.model.tokenizerPath);
        const texts = await readDatasetShard(plan.dataset.source, shard, { maxRecordBytes: plan.spec.maxRecordBytes });
        checkShardTexts(plan.dataset.path, shard, texts);
        out = await pool.run(
          'extractShard',
          {
            onnxPath: model.onnxPath,
            tokenizerPath: model.tokenizerPath,
            maxTokens: plan.maxTokens,
            batchSize: plan.spec.batchSize,
            intraOpThreads: runtime.intraOpThreads,
            startRow: shard.startRow,
            texts,
            layers: plan.layers,
            loss: plan.spec.loss,
          },
          (d) => (textsDone = d),
          ctx.cancellationSignal,
        );
      }
    } catch (err) {
      // Cancelled: answer as the SDK expects (CancelledFailure), not as a failed attempt.
      if (ctx.cancellationSignal.aborted) await ctx.cancelled;
      throw err;
    } finally {
      clearInterval(beat);
    }
    const entry = (key: string, bytes: Uint8Array): FileEntry => ({ key, bytes: bytes.length, sha256: sha256(bytes) });
    const files: FileEntry[] = [];
    const samplesBytes = samplesToArrow(out.samples);
    await store.put(keys.shardSamples(plan.prefix, shard), samplesBytes);
    files.push(entry(keys.shardSamples(plan.prefix, shard), samplesBytes));
    for (const gram of out.grams) {
      const gramBytes = gramToArrow(gram);
      await store.put(keys.shardGram(plan.prefix, shard, gram.layer), gramBytes);
      files.push(entry(keys.shardGram(plan.prefix, shard, gram.layer), gramBytes));
    }
    // Written last: a shard without done.json is not finished, whatever else exists.
    const done: ShardDone = {
      shard: input.shard,
      rows: [shard.startRow, shard.startRow + shard.rows],
      tokens: out.tokens,
      files,
      runtime: { ...runtime, poolThreads: pool.size, worker: workerIdentity() },
    };
    await putJson(store, keys.shardDone(plan.prefix, shard), done);
    return {
      shard: input.shard,
      samples: shard.rows,
      skipped: out.samples.filter((s) => s.skipped && s.layer === plan.layers[0]).length,
      tokens: out.tokens,
      inferenceMs: Math.round(out.inferenceMs),
      metricsMs: Math.round(out.metricsMs),
    };
  });
}

/**
 * One node of the reduction tree: sums partial Grams `index·fanIn … index·fanIn + fanIn − 1` of the
 * level below (level 0 = the shards' own partials) into `reduce/<layer>/level-<level>/<index>`. The workflow
 * names nodes by numbers only, so payloads stay small however many shards there are. Idempotent:
 * an existing output is kept.
 */
export async function reduceGrams(input: ReduceInput): Promise<string> {
  return userErrorsFinal(() => withHeartbeat(async () => {
    const store = openStore(input.storeUri);
    const plan = await loadPlan(store, input);
    const output = keys.reduced(plan.prefix, input.fanIn, input.layer, input.level, input.index);
    if (await store.exists(output)) return output;
    const below = Math.ceil(plan.shards.length / input.fanIn ** (input.level - 1)); // nodes one level down
    const first = input.index * input.fanIn;
    const last = Math.min(first + input.fanIn, below);
    const inputs: string[] = [];
    for (let i = first; i < last; i++) {
      inputs.push(
        input.level === 1
          ? keys.shardGram(plan.prefix, plan.shards[i], input.layer)
          : keys.reduced(plan.prefix, input.fanIn, input.layer, input.level - 1, i),
      );
    }
    // Streamed: k inputs read batch by batch in lockstep, memory O(k × batch), not O(k × d²).
    await reduceGramFiles(store, inputs, output, { onBatch: () => Context.current().heartbeat() });
    return output;
  }));
}

/**
 * One layer's per-sample rows folded in row order (shard by shard), keeping only what the summary
 * needs: the metrics the dataset aggregates resample (the bootstrap depends on their order), and
 * running sums — loss Σ in the same order as a sum over the whole list, so results are bit-identical.
 */
class LayerTotals {
  readonly metrics: SampleMetrics[] = [];
  tokens = 0;
  truncated = 0;
  /** The first TRUNCATED_ROWS_LISTED truncated rows, in row order. */
  readonly truncatedRows: number[] = [];
  private lossSum = 0;
  private lossCount = 0;

  add(r: SampleRow): void {
    this.metrics.push(sampleMetricsOfRow(r));
    this.tokens += r.tokens;
    if (r.truncated && this.truncated++ < TRUNCATED_ROWS_LISTED) this.truncatedRows.push(r.row);
    if (typeof r.loss === 'number') {
      this.lossSum += r.loss;
      this.lossCount++;
    }
  }

  /** Mean next-token loss over the samples that have one (causal models), else null. */
  meanLoss(): number | null {
    return this.lossCount ? this.lossSum / this.lossCount : null;
  }
}

/** Shards summarize reads at once: store round trips (S3: one per file) overlap; memory ≈ this many tables. */
const SUMMARY_READ_CONCURRENCY = 16;

/** Every shard's done.json and per-sample rows, in shard order, SUMMARY_READ_CONCURRENCY shards at a time. */
function shardOutputs(store: ObjectStore, plan: EvaluationPlan): AsyncIterable<{ done: ShardDone; rows: SampleRow[] }> {
  // Readable.map runs up to `concurrency` reads and yields their results in input order.
  return Readable.from(plan.shards).map(
    async (s: EvaluationPlan['shards'][number]) => {
      const key = keys.shardSamples(plan.prefix, s);
      const [done, bytes] = await Promise.all([getJson<ShardDone>(store, keys.shardDone(plan.prefix, s)), store.get(key)]);
      return { done, rows: samplesFromArrow(bytes, store.uriOf(key)) };
    },
    { concurrency: SUMMARY_READ_CONCURRENCY },
  );
}

/** Shards per extraction runtime (versions, provider, threads; not the worker), for results.json. */
function countRuntime(counts: Map<string, ShardRuntimeCount>, r: ShardRuntime | undefined): void {
  if (!r) return;
  const { worker: _worker, ...rest } = r;
  const key = JSON.stringify(rest);
  const c = counts.get(key);
  if (c) c.shards++;
  else counts.set(key, { ...rest, poolThreads: rest.poolThreads ?? null, shards: 1 });
}

/**
 * Dataset metrics per layer from every shard's rows, pooled metrics from each layer's reduced Gram
 * (which must cover every row exactly once), then summary.json and, last, manifest.json.
 */
export async function summarize(input: PlanRef & {
  grams: Record<string, string>;
  /** The untrained twin's per-layer results, with `diffErank`. */
  untrained?: UntrainedLayer[];
}): Promise<SummaryResult> {
  return userErrorsFinal(() => withHeartbeat(async () => {
    const store = openStore(input.storeUri);
    const plan = await loadPlan(store, input);
    const { prefix, run } = plan;
    const files: FileEntry[] = [];
    const entry = (key: string, bytes: Uint8Array): FileEntry => ({ key, bytes: bytes.length, sha256: sha256(bytes) });
    const ctx = Context.current();
    const totals = new Map(plan.layers.map((l) => [l, new LayerTotals()]));
    // Multimodal alignment needs each sample's eRank1–5 rows side by side; text evaluations keep none.
    const keepRows = plan.kind === 'multimodal';
    const isPart = (r: SampleRow) => (ERANK_PARTS as readonly string[]).includes(r.layer);
    const rows: SampleRow[] = [];
    const runtimes = new Map<string, ShardRuntimeCount>();
    for await (const shard of shardOutputs(store, plan)) {
      files.push(...shard.done.files);
      countRuntime(runtimes, shard.done.runtime);
      for (const r of shard.rows) totals.get(r.layer)?.add(r);
      if (keepRows) rows.push(...shard.rows.filter(isPart));
      ctx.heartbeat(); // throttled by the SDK
    }
    const expected = JSON.stringify([{ start: 0, end: plan.dataset.rows }]);
    const pool = sharedPool();
    // One layer at a time per thread the pool has started (each holds a d×d Gram; a thread started
    // only for this costs more memory than its solves save time), results in layer order.
    const perLayer: Array<{ summary: LayerSummary; file: FileEntry }> = await Readable.from(plan.layers).map(
      async (layer: string) => {
        const top = input.grams[layer];
        if (!top) throw new Error(`no reduced Gram for layer ${layer}`);
        const gramBytes = await store.get(top);
        const gram = gramFromArrow(gramBytes, store.uriOf(top));
        if (JSON.stringify(gram.covers) !== expected) {
          throw new Error(`${store.uriOf(top)} covers ${JSON.stringify(gram.covers)}, expected every row ${expected}`);
        }
        // The verified root Gram is the evaluation's: its bytes are copied as they are.
        const gramKey = keys.gram(prefix, run, layer);
        await store.put(gramKey, gramBytes);
        const layerTotals = totals.get(layer)!;
        const layerSummary: LayerSummary = {
          layer,
          dim: gram.dim,
          metrics: datasetMetrics(layerTotals.metrics, { seed: plan.spec.seed }),
          pooled: await pool.run('pooledMetrics', { s: gram.s, n: gram.n, dim: gram.dim }),
          meanLoss: layerTotals.meanLoss(),
          gram: store.uriOf(gramKey),
        };
        const twin = input.untrained?.find((u) => u.layer === layer);
        if (twin) {
          const d = diffErank(twin, layerSummary.metrics);
          layerSummary.diffErank = { untrainedErankOfMeanEntropy: twin.erankOfMeanEntropy!, ...d, untrainSeed: plan.spec.untrainSeed };
          layerSummary.reducedLoss = twin.meanLoss !== null && layerSummary.meanLoss !== null ? twin.meanLoss - layerSummary.meanLoss : null;
        }
        ctx.heartbeat();
        return { summary: layerSummary, file: entry(gramKey, gramBytes) };
      },
      { concurrency: Math.max(1, pool.started) },
    ).toArray();
    const layers = perLayer.map((l) => l.summary);
    files.push(...perLayer.map((l) => l.file));
    const first = totals.get(plan.layers[0])!;
    const summary: EvaluationSummary = {
      model: {
        name: plan.model.name,
        onnxSha256: plan.model.onnxSha256,
        tokenizerSha256: plan.model.tokenizerSha256,
        ...(plan.spec.family ? { family: plan.spec.family } : {}),
        params: plan.model.params,
        ...('blocks' in plan.model && plan.model.blocks ? { blocks: plan.model.blocks } : {}),
        ...(plan.spec.untrainedTwin ? { untrainedTwin: true } : {}),
      },
      dataset: { name: plan.dataset.name, rows: plan.dataset.rows, sha256: plan.dataset.sha256 },
      layer: layers[0].layer,
      dim: layers[0].dim,
      tokens: first.tokens,
      truncatedSamples: first.truncated,
      truncatedRows: first.truncatedRows,
      maxTokens: plan.maxTokens,
      maxPositions: plan.maxPositions,
      metrics: layers[0].metrics,
      pooled: layers[0].pooled,
      meanLoss: layers[0].meanLoss,
      layers,
      ...(plan.kind === 'multimodal'
        ? {
            multimodal: {
              imageTransform: plan.multimodal.imageTransform,
              ...(plan.multimodal.imageTransform === 'noise' ? { noiseSigma: plan.multimodal.noiseSigma } : {}),
              images: plan.multimodal.images,
              alignment: alignmentFromRows(rows, { seed: plan.spec.seed, source: store.uriOf(plan.prefix) }),
            },
          }
        : {}),
      configSha256: plan.configSha256,
      seed: plan.spec.seed,
      outputs: {
        prefix: store.uriOf(prefix),
        run,
        summary: store.uriOf(keys.summary(prefix, run)),
        gram: layers[0].gram,
        shards: plan.shards.length,
      },
      versions: resultVersions(),
    };
    const summaryBytes = new TextEncoder().encode(JSON.stringify(summary, null, 2) + '\n');
    const summaryKey = keys.summary(prefix, run);
    await store.put(summaryKey, summaryBytes);
    files.push(entry(keys.plan(prefix, run), await store.get(keys.plan(prefix, run))), entry(summaryKey, summaryBytes));
    // The same results in lm-evaluation-harness's layout (src/report/harnessResults.ts).
    const harness = evaluationResults(summary, plan, [...runtimes.values()], { gitHash: gitHash(), date: Date.now() / 1000, softwareVersions: summary.versions });
    const resultsBytes = new TextEncoder().encode(JSON.stringify(harness, null, 2) + '\n');
    await store.put(keys.results(prefix, run), resultsBytes);
    files.push(entry(keys.results(prefix, run), resultsBytes));
    // The manifest is written last: its presence means the evaluation's outputs are complete.
    // Shard files' sums come from their done.json, computed when they were written.
    await putJson(store, keys.manifest(prefix, run), { spec: plan.spec, versions: summary.versions, files });
    return { summaryUri: store.uriOf(summaryKey), summaryKey, summary, resultsUri: store.uriOf(keys.results(prefix, run)) };
  }));
}
