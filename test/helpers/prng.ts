// Seeded pseudo-random numbers for reproducible tests and benchmarks.
// mulberry32: Tommy Ettinger's 32-bit generator (public domain), good enough for test data,
// not for statistics. gaussian: Box–Muller transform (Box & Muller 1958).

/** A generator of uniform numbers in [0, 1) from a 32-bit seed. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One standard normal draw from a uniform generator (Box–Muller, cosine branch). */
export function gaussian(rng: () => number): number {
  // 1 − u ∈ (0, 1], so the logarithm is finite.
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
