// The id of a precomputed sample in its per-sample rows: what ties a row back to its text.
import { sha256 } from '../io/hash.ts';

/** A sample's id: the sha256 of its text when the texts are known, else of its first measured layer's values (float64 LE). */
export function sampleIdOf(text: string | undefined, x: Float64Array): string {
  return text !== undefined ? sha256(text) : sha256(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
}
