// Gram / covariance kernels on dense row-major float64 matrices (DESIGN §1: Σ = ZᵀZ / N and the
// Gram ZZᵀ / N share their non-zero eigenvalues, so always form the smaller one).
//
// All kernels are unscaled sums of products: the caller divides by N. Partial sums add up exactly
// up to floating-point reassociation, which is what makes per-shard partial Grams reducible in any
// grouping (DESIGN §1 "partials add up").
//
// Speed: the hot loop is `syrkUpper`, a symmetric rank-k update (BLAS dsyrk, uplo='U', trans='T').
// Row-major Z means a row z_r is contiguous, so we apply rank-1 updates S += z_r z_rᵀ four rows at
// a time: each S element is loaded and stored once per 4 rows of Z (8 flops per load/store pair),
// which is what keeps a cols×cols S of up to 128 MiB from being purely memory-bound.

/** How many rows of Z each pass over S consumes (register blocking of the rank-k update). */
const ROW_BLOCK = 4;

/**
 * The smaller of the two Gram matrices of Z, unscaled, with both triangles filled.
 * Z: rows×cols (row-major). Returns ZZᵀ (rows×rows) if rows ≤ cols, else ZᵀZ (cols×cols).
 */
export function smallerGram(z: Float64Array, rows: number, cols: number): { matrix: Float64Array; n: number } {
  checkShape(z, rows, cols);
  if (rows <= cols) {
    const n = rows;
    const matrix = new Float64Array(n * n);
    // (ZZᵀ)_ij = z_i · z_j: dot products of contiguous rows; upper triangle, then mirror.
    for (let i = 0; i < n; i++) {
      const ri = i * cols;
      for (let j = i; j < n; j++) {
        const rj = j * cols;
        let s0 = 0;
        let s1 = 0;
        let c = 0;
        for (; c + 1 < cols; c += 2) {
          s0 += z[ri + c] * z[rj + c];
          s1 += z[ri + c + 1] * z[rj + c + 1];
        }
        if (c < cols) s0 += z[ri + c] * z[rj + c];
        matrix[i * n + j] = s0 + s1;
      }
    }
    symmetrizeFromUpper(matrix, n);
    return { matrix, n };
  }
  const n = cols;
  const matrix = new Float64Array(n * n);
  syrkUpper(matrix, z, rows, cols);
  symmetrizeFromUpper(matrix, n);
  return { matrix, n };
}

/**
 * Rank-k update S += ZᵀZ touching only the upper triangle of S (s[i*cols + j], j ≥ i); the lower
 * triangle is left as it was. Z: rows×cols, S: cols×cols (both row-major).
 */
export function syrkUpper(s: Float64Array, z: Float64Array, rows: number, cols: number): void {
  checkShape(z, rows, cols);
  if (s.length < cols * cols) throw new RangeError(`S has ${s.length} entries, need cols*cols = ${cols * cols}`);
  const n = cols;
  let r = 0;
  for (; r + ROW_BLOCK <= rows; r += ROW_BLOCK) {
    const r0 = r * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    for (let i = 0; i < n; i++) {
      const a0 = z[r0 + i];
      const a1 = z[r1 + i];
      const a2 = z[r2 + i];
      const a3 = z[r3 + i];
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue; // padding / ReLU zeros
      const si = i * n;
      for (let j = i; j < n; j++) {
        s[si + j] += a0 * z[r0 + j] + a1 * z[r1 + j] + a2 * z[r2 + j] + a3 * z[r3 + j];
      }
    }
  }
  for (; r < rows; r++) {
    const r0 = r * n;
    for (let i = 0; i < n; i++) {
      const a0 = z[r0 + i];
      if (a0 === 0) continue;
      const si = i * n;
      for (let j = i; j < n; j++) s[si + j] += a0 * z[r0 + j];
    }
  }
}

/** Copy the upper triangle of the n×n row-major S onto its lower triangle, in place. */
export function symmetrizeFromUpper(s: Float64Array, n: number): void {
  if (s.length < n * n) throw new RangeError(`S has ${s.length} entries, need n*n = ${n * n}`);
  // Row i of the lower triangle is column i of the upper: a strided read, but each cache line of
  // the destination row is written once.
  for (let i = 1; i < n; i++) {
    const row = i * n;
    for (let j = 0; j < i; j++) s[row + j] = s[j * n + i];
  }
}

/** target += source, elementwise (summing partial Grams). Shapes must match. */
export function addInto(target: Float64Array, source: Float64Array): void {
  if (target.length !== source.length) {
    throw new RangeError(`length mismatch: target ${target.length}, source ${source.length}`);
  }
  for (let i = 0; i < target.length; i++) target[i] += source[i];
}

function checkShape(z: Float64Array, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new RangeError(`rows and cols must be non-negative integers, got ${rows}×${cols}`);
  }
  if (z.length < rows * cols) throw new RangeError(`Z has ${z.length} entries, need rows*cols = ${rows * cols}`);
}
