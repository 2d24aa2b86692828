// The engine a shard was extracted with: entroscope and onnxruntime versions, the execution
// provider and the thread counts — what can change a shard's bits besides its inputs. Each shard's
// done.json records it, and an evaluation's store folder holds one `runtimes/<hash>.json` per
// distinct runtime that wrote shards there, so a resume (or a second worker) that would mix two
// runtimes in one result is seen before it extracts anything.
import { hostname } from 'node:os';
import { InputError } from '../errors.ts';
import { canonicalJson, sha256Json } from '../io/hash.ts';
import { getJson, putJson, type ObjectStore } from '../store/store.ts';
import { packageVersion, resultVersions } from '../io/versions.ts';
import { keys } from './plan.ts';

export interface ExtractionRuntime {
  entroscope: string;
  onnxruntime: string;
  /** onnxruntime-node runs on the CPU provider here (no other is configured). */
  executionProvider: 'cpu';
  /** onnxruntime intra-op threads per session (inter-op: 1). */
  intraOpThreads: number;
}

/** Also recorded in done.json, not compared: the pool size changes throughput, never results. */
export interface ShardRuntime extends ExtractionRuntime {
  poolThreads: number;
  worker: string;
}

/** The name Temporal gives a worker by default, used in messages about where something ran. */
export function workerIdentity(): string {
  return `${process.pid}@${hostname()}`;
}

export function extractionRuntime(intraOpThreads: number): ExtractionRuntime {
  return { entroscope: resultVersions().entroscope, onnxruntime: packageVersion('onnxruntime-node'), executionProvider: 'cpu', intraOpThreads };
}

function describe(r: ExtractionRuntime): string {
  return `entroscope ${r.entroscope}, onnxruntime ${r.onnxruntime}, provider ${r.executionProvider}, ${r.intraOpThreads} intra-op thread(s)`;
}

/**
 * Fails (InputError, so without retry) when shards under `prefix` were extracted with another
 * runtime than `mine`, unless `allowMixed`; with `register`, first records `mine` there (so that of
 * two workers with different runtimes starting at once, at least one sees the other).
 */
export async function checkRuntime(store: ObjectStore, prefix: string, mine: ExtractionRuntime, opts: { register: boolean; allowMixed: boolean }): Promise<void> {
  const mineKey = keys.runtime(prefix, sha256Json(mine));
  if (opts.register && !(await store.exists(mineKey))) await putJson(store, mineKey, mine);
  if (opts.allowMixed) return;
  const others: ExtractionRuntime[] = [];
  for (const key of await store.list(keys.runtimes(prefix))) {
    if (key === mineKey || !key.endsWith('.json')) continue;
    const r = await getJson<ExtractionRuntime>(store, key);
    if (canonicalJson(r) !== canonicalJson(mine)) others.push(r);
  }
  if (others.length > 0) {
    throw new InputError(
      `${store.uriOf(prefix)}: finished shards were extracted with ${others.map(describe).join('; ')}, ` +
        `but worker ${workerIdentity()} runs ${describe(mine)}; mixing them would give results no single setup produces. ` +
        `Run with the same versions, or allow it (entroscope run --allow-mixed-versions, sweep spec allowMixedVersions: true)`,
    );
  }
}
