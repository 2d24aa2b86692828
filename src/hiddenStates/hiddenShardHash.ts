// The content hash of a hidden-states shard, computed by the planner and again by the worker that
// reads the shard: sha256 over exactly the bytes read (each file's byte range, readSamples), the
// shard's rows of the texts file, and the texts the files themselves carry (Arrow `text`).
import { sha256Json } from '../io/hash.ts';
import { readSamples, type HiddenStatesFile, type MeasuredSample } from './hiddenStatesSource.ts';

export function shardSha256(bytesSha256: string, textsSha256: string | null, samples: MeasuredSample[]): string {
  const inline = samples.some((s) => s.text !== undefined) ? sha256Json(samples.map((s) => s.text ?? null)) : null;
  return sha256Json([bytesSha256, textsSha256, inline]);
}

/** The planner's side: reads the bytes only to hash them. */
export async function hiddenShardSha256(files: HiddenStatesFile[], samples: MeasuredSample[], textsSha256: string | null): Promise<string> {
  const { sha256 } = await readSamples(files, samples, false);
  return shardSha256(sha256, textsSha256, samples);
}
