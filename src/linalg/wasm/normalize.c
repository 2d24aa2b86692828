// Steps 1–2 of DESIGN §1 for one sample, WebAssembly SIMD build of src/metrics/normalize.ts
// (`centerAndNormalizeInto`): X (rows×cols, float32 or float64) → Z (rows×cols float64), with
//
//   μ_c = x_0c + Σ_{r≥1} (x_rc − x_0c) / rows           (exact for a constant column)
//   x̃_r = x_r − μ;  ‖x̃_r‖² = (s0 + s1) + (s2 + s3)      (s_j: the squares of columns c ≡ j mod 4)
//   z_r = x̃_r · (1/‖x̃_r‖),  columnSquares_c = Σ_kept z_rc²
//
// and rows with ‖x̃_r‖ ≤ 1e-12 · max_r ‖x̃_r‖ dropped (Z compacted, columnSquares summed again over
// the kept rows). Every value is computed by the same operations in the same order as the
// TypeScript form, so the two give the same bits (test/unit/normalizeWasm.test.ts): the column
// sums run down the rows (SIMD over columns keeps each column's order), the row's squared norm in
// the four partial sums above (two f64x2 accumulators), and -ffp-contract=off keeps every multiply
// and add separate.
//
// Passes: one over X (convert to float64, finiteness check as Σ (v − v), column offsets), then
// per row of Z, while the row is in L1: centre and square, then scale and add column squares. A
// row's scale is applied before the largest norm is known; the rare rows found negligible at the
// end are compacted away afterwards.
//
// Built by infra/build-wasm.sh (clang --target=wasm32 -msimd128, no libc), committed as
// normalize.wasm. Exports: center_normalize_f32, center_normalize_f64, memory, __heap_base.

#include <wasm_simd128.h>

#define DROP_RELATIVE_NORM 1e-12

/** The per-row pass and the drop of negligible rows; z already holds X in float64, mean the
 * column offsets Σ_{r≥1} (x_rc − x_0c). Returns the rows kept. */
static int center_rows(int rows, int cols, double *restrict z, double *restrict mean, double *restrict norms, double *restrict colsq) {
  int c;
  for (c = 0; c + 2 <= cols; c += 2) {
    v128_t m = wasm_v128_load(mean + c);
    v128_t x0 = wasm_v128_load(z + c);
    wasm_v128_store(mean + c, wasm_f64x2_add(x0, wasm_f64x2_div(m, wasm_f64x2_splat((double)rows))));
  }
  for (; c < cols; c++) mean[c] = z[c] + mean[c] / (double)rows;
  for (c = 0; c < cols; c++) colsq[c] = 0;

  double max_norm = 0;
  for (int r = 0; r < rows; r++) {
    double *restrict row = z + (long)r * cols;
    v128_t acc01 = wasm_f64x2_splat(0);
    v128_t acc23 = wasm_f64x2_splat(0);
    for (c = 0; c + 4 <= cols; c += 4) {
      v128_t v01 = wasm_f64x2_sub(wasm_v128_load(row + c), wasm_v128_load(mean + c));
      v128_t v23 = wasm_f64x2_sub(wasm_v128_load(row + c + 2), wasm_v128_load(mean + c + 2));
      wasm_v128_store(row + c, v01);
      wasm_v128_store(row + c + 2, v23);
      acc01 = wasm_f64x2_add(acc01, wasm_f64x2_mul(v01, v01));
      acc23 = wasm_f64x2_add(acc23, wasm_f64x2_mul(v23, v23));
    }
    double s0 = wasm_f64x2_extract_lane(acc01, 0), s1 = wasm_f64x2_extract_lane(acc01, 1);
    double s2 = wasm_f64x2_extract_lane(acc23, 0);
    const double s3 = wasm_f64x2_extract_lane(acc23, 1);
    if (c < cols) { const double v = row[c] - mean[c]; row[c] = v; s0 += v * v; c++; }
    if (c < cols) { const double v = row[c] - mean[c]; row[c] = v; s1 += v * v; c++; }
    if (c < cols) { const double v = row[c] - mean[c]; row[c] = v; s2 += v * v; c++; }
    const double norm = __builtin_sqrt((s0 + s1) + (s2 + s3));
    norms[r] = norm;
    if (norm > max_norm) max_norm = norm;
    const double inv = 1 / norm;
    const v128_t vinv = wasm_f64x2_splat(inv);
    for (c = 0; c + 2 <= cols; c += 2) {
      v128_t w = wasm_f64x2_mul(wasm_v128_load(row + c), vinv);
      wasm_v128_store(row + c, w);
      wasm_v128_store(colsq + c, wasm_f64x2_add(wasm_v128_load(colsq + c), wasm_f64x2_mul(w, w)));
    }
    for (; c < cols; c++) { const double w = row[c] * inv; row[c] = w; colsq[c] += w * w; }
  }

  const double threshold = DROP_RELATIVE_NORM * max_norm;
  int all = 1;
  for (int r = 0; r < rows; r++) if (!(norms[r] > threshold)) all = 0;
  if (all) return rows;
  // Some rows are negligible: keep the others, in order, and sum their column squares again.
  for (c = 0; c < cols; c++) colsq[c] = 0;
  int k = 0;
  for (int r = 0; r < rows; r++) {
    if (!(norms[r] > threshold)) continue;
    double *restrict to = z + (long)k * cols;
    const double *from = z + (long)r * cols;
    for (c = 0; c < cols; c++) {
      const double w = from[c];
      to[c] = w;
      colsq[c] += w * w;
    }
    k++;
  }
  return k;
}

/** Two consecutive values of X at p as f64x2: float32 widened, float64 as is. */
static inline v128_t load2_f32(const float *p) { return wasm_f64x2_promote_low_f32x4(wasm_v128_load64_zero(p)); }
static inline v128_t load2_f64(const double *p) { return wasm_v128_load(p); }

/**
 * center_normalize_<suffix>(x, rows, cols, z, mean, norms, colsq) for X of element type T: the pass
 * over X (Z = X in float64, Σ (v − v), the column offsets Σ_{r≥1} (x_rc − x_0c)), then center_rows.
 * Returns the rows kept, or −1 when X has a value that is not finite (Z is then garbage).
 */
#define CENTER_NORMALIZE(suffix, T)                                                                                   \
  __attribute__((export_name("center_normalize_" #suffix)))                                                            \
  int center_normalize_##suffix(const T *x, int rows, int cols, double *z, double *restrict mean, double *restrict norms, \
                                double *restrict colsq) {                                                             \
    if (rows == 0) {                                                                                                  \
      for (int c = 0; c < cols; c++) colsq[c] = 0;                                                                    \
      return 0;                                                                                                       \
    }                                                                                                                 \
    v128_t check = wasm_f64x2_splat(0);                                                                               \
    double tail = 0;                                                                                                  \
    int c;                                                                                                            \
    for (c = 0; c + 2 <= cols; c += 2) {                                                                              \
      const v128_t v = load2_##suffix(x + c);                                                                         \
      wasm_v128_store(z + c, v);                                                                                      \
      check = wasm_f64x2_add(check, wasm_f64x2_sub(v, v));                                                            \
      wasm_v128_store(mean + c, wasm_f64x2_splat(0));                                                                 \
    }                                                                                                                 \
    for (; c < cols; c++) { const double v = x[c]; z[c] = v; tail += v - v; mean[c] = 0; }                          \
    for (int r = 1; r < rows; r++) {                                                                                  \
      const T *src = x + (long)r * cols;                                                                              \
      double *dst = z + (long)r * cols;                                                                               \
      for (c = 0; c + 2 <= cols; c += 2) {                                                                            \
        const v128_t v = load2_##suffix(src + c);                                                                     \
        wasm_v128_store(dst + c, v);                                                                                  \
        check = wasm_f64x2_add(check, wasm_f64x2_sub(v, v));                                                          \
        wasm_v128_store(mean + c, wasm_f64x2_add(wasm_v128_load(mean + c), wasm_f64x2_sub(v, wasm_v128_load(z + c)))); \
      }                                                                                                               \
      for (; c < cols; c++) { const double v = src[c]; dst[c] = v; tail += v - v; mean[c] += v - z[c]; }            \
    }                                                                                                                 \
    if (wasm_f64x2_extract_lane(check, 0) + wasm_f64x2_extract_lane(check, 1) + tail != 0) return -1;                 \
    return center_rows(rows, cols, z, mean, norms, colsq);                                                            \
  }

CENTER_NORMALIZE(f32, float)
/* For float64 X; x may be z (in place: each value is read before it is written). */
CENTER_NORMALIZE(f64, double)
