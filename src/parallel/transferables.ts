// The buffers of a pool thread's result that move to the caller instead of being copied.
//
// A shard's partial Grams are d×d float64 per layer (32 MiB at d = 2048; 0.8 GB for the 24 taps of
// a 22-block model with `--layers all`). postMessage copies what it is given (structured clone), so
// the thread's Grams and the caller's copy both live until the thread's next garbage collection;
// listed in the transfer list they move instead (the thread's views are detached). Only the Grams'
// S is moved: the extraction tasks build it fresh for each shard and never read it again, whereas
// other typed arrays of a result may be views of buffers a thread keeps (caches, batch buffers).
// A view that does not cover its whole buffer, or a SharedArrayBuffer, is left to be copied.
export function resultTransferables(output: unknown): ArrayBuffer[] {
  const grams = (output as { grams?: unknown } | null)?.grams;
  if (!Array.isArray(grams)) return [];
  const out = new Set<ArrayBuffer>();
  for (const g of grams) {
    const s = (g as { s?: unknown } | null)?.s;
    if (ArrayBuffer.isView(s) && s.buffer instanceof ArrayBuffer && s.byteOffset === 0 && s.byteLength === s.buffer.byteLength) out.add(s.buffer);
  }
  return [...out];
}
