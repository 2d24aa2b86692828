// Blocked Householder tridiagonalisation (LAPACK dsytrd with dlatrd panels), WebAssembly SIMD
// build of src/linalg/tridiagonalize.ts's `tridiagonalizeUpperBlocked`: same storage (upper
// triangle of a row-major n×n array, i.e. LAPACK's column-major lower triangle), same
// arithmetic, but the two O(n³) kernels use f64x2 vectors:
//   - symv_upper: y += B u over the upper triangle, four rows per pass (each y[j] load/store
//     serves four rows, each w element feeds both the dot product and the axpy);
//   - syr2k_upper: C −= V Wᵀ + W Vᵀ as a GEMM C −= L Rᵀ on packed 4-row panels, 4×4 tiles held
//     in eight f64x2 accumulators.
// Panels run to the end of the matrix (the last one narrower), so no unblocked routine is needed.
//
// Built by infra/build-wasm.sh (clang --target=wasm32 -msimd128, no libc); the results,
// eigen.wasm and eigen-fma.wasm, are committed. Exports: tridiagonalize, memory, __heap_base.

#include <wasm_simd128.h>

#define TILE 4
#define COLUMN_BLOCK 64

// Built twice (infra/build-wasm.sh): eigen.wasm with separate multiplies and adds, eigen-fma.wasm
// with -DFMA -mrelaxed-simd, where the accumulations of both O(n³) kernels are f64x2.relaxed_madd
// (fused on hardware with FMA). tridiagonalizeWasm.ts picks the second where the runtime has it.
#ifdef FMA
#define MADD(c, a, b) wasm_f64x2_relaxed_madd(a, b, c)
#else
#define MADD(c, a, b) wasm_f64x2_add(c, wasm_f64x2_mul(a, b))
#endif

static inline double dsqrt(double x) { return __builtin_sqrt(x); }

static inline double hsum(v128_t v) { return wasm_f64x2_extract_lane(v, 0) + wasm_f64x2_extract_lane(v, 1); }

// y[j] += Σ_m B[j][m] u[m] for j, m ≥ from; B symmetric in the upper triangle of w (n×n).
// Four rows per pass: each y[j] load/store serves four rows, each w element feeds both the row's
// dot product and the mirrored column's axpy, and four concurrent row streams keep the memory
// system busy once the matrix is out of cache (measured 4.9 vs 3.7 GFlop/s at n = 2048 for two rows).
__attribute__((noinline)) static void symv_upper(const double *restrict w, int n, int from, const double *restrict u, double *restrict y) {
  int i = from;
  for (; i + 3 < n; i += 4) {
    const double *r0 = w + (long)i * n, *r1 = r0 + n, *r2 = r1 + n, *r3 = r2 + n;
    const double u0 = u[i], u1 = u[i + 1], u2 = u[i + 2], u3 = u[i + 3];
    // Head: the upper triangle of the 4×4 diagonal block, scalar.
    double s0 = r0[i] * u0 + r0[i + 1] * u1 + r0[i + 2] * u2 + r0[i + 3] * u3;
    double s1 = r1[i + 1] * u1 + r1[i + 2] * u2 + r1[i + 3] * u3;
    double s2 = r2[i + 2] * u2 + r2[i + 3] * u3;
    double s3 = r3[i + 3] * u3;
    y[i + 1] += r0[i + 1] * u0;
    y[i + 2] += r0[i + 2] * u0 + r1[i + 2] * u1;
    y[i + 3] += r0[i + 3] * u0 + r1[i + 3] * u1 + r2[i + 3] * u2;
    v128_t a0 = wasm_f64x2_splat(0), a1 = a0, a2 = a0, a3 = a0;
    const v128_t vu0 = wasm_f64x2_splat(u0), vu1 = wasm_f64x2_splat(u1), vu2 = wasm_f64x2_splat(u2), vu3 = wasm_f64x2_splat(u3);
    int j = i + 4;
    for (; j + 1 < n; j += 2) {
      const v128_t x = wasm_v128_load(u + j);
      const v128_t b0 = wasm_v128_load(r0 + j), b1 = wasm_v128_load(r1 + j);
      const v128_t b2 = wasm_v128_load(r2 + j), b3 = wasm_v128_load(r3 + j);
      a0 = MADD(a0, b0, x);
      a1 = MADD(a1, b1, x);
      a2 = MADD(a2, b2, x);
      a3 = MADD(a3, b3, x);
      v128_t yy = wasm_f64x2_add(wasm_f64x2_mul(b0, vu0), wasm_f64x2_mul(b1, vu1));
      yy = wasm_f64x2_add(yy, wasm_f64x2_add(wasm_f64x2_mul(b2, vu2), wasm_f64x2_mul(b3, vu3)));
      wasm_v128_store(y + j, wasm_f64x2_add(wasm_v128_load(y + j), yy));
    }
    for (; j < n; j++) {
      const double b0 = r0[j], b1 = r1[j], b2 = r2[j], b3 = r3[j];
      s0 += b0 * u[j]; s1 += b1 * u[j]; s2 += b2 * u[j]; s3 += b3 * u[j];
      y[j] += b0 * u0 + b1 * u1 + b2 * u2 + b3 * u3;
    }
    y[i] += s0 + hsum(a0);
    y[i + 1] += s1 + hsum(a1);
    y[i + 2] += s2 + hsum(a2);
    y[i + 3] += s3 + hsum(a3);
  }
  for (; i < n; i++) {
    const double *r = w + (long)i * n;
    const double ui = u[i];
    double s = r[i] * ui;
    for (int j = i + 1; j < n; j++) { s += r[j] * u[j]; y[j] += r[j] * ui; }
    y[i] += s;
  }
}

// C[i][j] −= Σ_p (V_p[i] W_p[j] + W_p[i] V_p[j]) for from ≤ i ≤ j < n (entries below the
// diagonal inside diagonal tiles are written too, and never read). V_p = row vRows+p of c,
// W_p = row p of wmat (length n). pack: 2·ceil((n−from)/4)·4·2k doubles.
__attribute__((noinline)) static void syr2k_upper(double *restrict c, int n, int from, int vRows, int k, const double *restrict wmat,
                        double *restrict pack) {
  const int m = n - from;
  if (m <= 0 || k == 0) return;
  const int kk = 2 * k;
  const int tiles = (m + TILE - 1) / TILE;
  const int panel = TILE * kk;
  double *rpack = pack + (long)tiles * panel;
  for (int t = 0; t < tiles; t++) {
    double *lp = pack + (long)t * panel;
    double *rp = rpack + (long)t * panel;
    for (int r = 0; r < TILE; r++) {
      const int i = from + t * TILE + r;
      if (i < n) {
        for (int p = 0; p < k; p++) {
          const double v = c[(long)(vRows + p) * n + i];
          const double w = wmat[(long)p * n + i];
          lp[p * TILE + r] = v;
          lp[(k + p) * TILE + r] = w;
          rp[p * TILE + r] = w;
          rp[(k + p) * TILE + r] = v;
        }
      } else {
        for (int q = 0; q < kk; q++) lp[q * TILE + r] = rp[q * TILE + r] = 0;
      }
    }
  }
  const int tilesPerBlock = COLUMN_BLOCK / TILE;
  for (int cb = 0; cb < tiles; cb += tilesPerBlock) {
    const int cbEnd = cb + tilesPerBlock < tiles ? cb + tilesPerBlock : tiles;
    for (int t = 0; t < cbEnd; t++) {
      const double *lp = pack + (long)t * panel;
      const int i0 = from + t * TILE;
      for (int u = cb > t ? cb : t; u < cbEnd; u++) {
        const double *rp = rpack + (long)u * panel;
        const int j0 = from + u * TILE;
        v128_t c00 = wasm_f64x2_splat(0), c02 = c00, c10 = c00, c12 = c00;
        v128_t c20 = c00, c22 = c00, c30 = c00, c32 = c00;
        for (int q = 0; q < kk; q++) {
          const double *l = lp + q * TILE;
          const v128_t r01 = wasm_v128_load(rp + q * TILE);
          const v128_t r23 = wasm_v128_load(rp + q * TILE + 2);
          v128_t s = wasm_v128_load64_splat(l);
          c00 = MADD(c00, s, r01);
          c02 = MADD(c02, s, r23);
          s = wasm_v128_load64_splat(l + 1);
          c10 = MADD(c10, s, r01);
          c12 = MADD(c12, s, r23);
          s = wasm_v128_load64_splat(l + 2);
          c20 = MADD(c20, s, r01);
          c22 = MADD(c22, s, r23);
          s = wasm_v128_load64_splat(l + 3);
          c30 = MADD(c30, s, r01);
          c32 = MADD(c32, s, r23);
        }
        if (i0 + TILE <= n && j0 + TILE <= n) {
          double *o = c + (long)i0 * n + j0;
          wasm_v128_store(o, wasm_f64x2_sub(wasm_v128_load(o), c00));
          wasm_v128_store(o + 2, wasm_f64x2_sub(wasm_v128_load(o + 2), c02));
          o += n;
          wasm_v128_store(o, wasm_f64x2_sub(wasm_v128_load(o), c10));
          wasm_v128_store(o + 2, wasm_f64x2_sub(wasm_v128_load(o + 2), c12));
          o += n;
          wasm_v128_store(o, wasm_f64x2_sub(wasm_v128_load(o), c20));
          wasm_v128_store(o + 2, wasm_f64x2_sub(wasm_v128_load(o + 2), c22));
          o += n;
          wasm_v128_store(o, wasm_f64x2_sub(wasm_v128_load(o), c30));
          wasm_v128_store(o + 2, wasm_f64x2_sub(wasm_v128_load(o + 2), c32));
        } else {
          double acc[16];
          wasm_v128_store(acc, c00); wasm_v128_store(acc + 2, c02);
          wasm_v128_store(acc + 4, c10); wasm_v128_store(acc + 6, c12);
          wasm_v128_store(acc + 8, c20); wasm_v128_store(acc + 10, c22);
          wasm_v128_store(acc + 12, c30); wasm_v128_store(acc + 14, c32);
          for (int r = 0; r < TILE && i0 + r < n; r++)
            for (int s = 0; s < TILE && j0 + s < n; s++) c[(long)(i0 + r) * n + j0 + s] -= acc[r * TILE + s];
        }
      }
    }
  }
}

// One dlatrd panel of nb rows from s (s + nb ≤ n): reflector i stays in row s+i right of the
// diagonal (leading 1 stored), its W in wmat row i; rows ≥ s+nb are read, not updated.
__attribute__((noinline)) static void reduce_panel(double *restrict w, int n, int s, int nb, double *restrict diag, double *restrict off,
                         double *restrict wmat, double *restrict t) {
  for (int i = 0; i < nb; i++) {
    const int k = s + i;
    double *rk = w + (long)k * n;
    for (int p = 0; p < i; p++) {
      const double *vp = w + (long)(s + p) * n;
      const double *wp = wmat + (long)p * n;
      const double vk = vp[k], wk = wp[k];
      for (int j = k; j < n; j++) rk[j] -= vk * wp[j] + wk * vp[j];
    }
    diag[k] = rk[k];
    if (k + 1 >= n) break;
    const double alpha = rk[k + 1];
    double sigma = 0;
    for (int j = k + 2; j < n; j++) sigma += rk[j] * rk[j];
    double *y = wmat + (long)i * n;
    if (sigma == 0) {
      off[k] = alpha;
      for (int j = k + 1; j < n; j++) y[j] = 0;
      continue;
    }
    const double norm = dsqrt(alpha * alpha + sigma);
    const double beta = alpha >= 0 ? -norm : norm;
    const double tau = (beta - alpha) / beta;
    const double inv = 1 / (alpha - beta);
    rk[k + 1] = 1;
    for (int j = k + 2; j < n; j++) rk[j] *= inv;
    off[k] = beta;
    for (int j = k + 1; j < n; j++) y[j] = 0;
    symv_upper(w, n, k + 1, rk, y);
    for (int p = 0; p < i; p++) {
      const double *vp = w + (long)(s + p) * n;
      const double *wp = wmat + (long)p * n;
      double tw = 0, tv = 0;
      for (int j = k + 1; j < n; j++) {
        tw += wp[j] * rk[j];
        tv += vp[j] * rk[j];
      }
      t[p] = tw;
      t[nb + p] = tv;
    }
    for (int p = 0; p < i; p++) {
      const double *vp = w + (long)(s + p) * n;
      const double *wp = wmat + (long)p * n;
      const double tw = t[p], tv = t[nb + p];
      for (int j = k + 1; j < n; j++) y[j] -= tw * vp[j] + tv * wp[j];
    }
    double yu = 0;
    for (int j = k + 1; j < n; j++) {
      y[j] *= tau;
      yu += y[j] * rk[j];
    }
    const double half = 0.5 * tau * yu;
    for (int j = k + 1; j < n; j++) y[j] -= half * rk[j];
  }
}

// Reduces the upper triangle of w (n×n, destroyed) to diag (n) and off (n−1).
// wmat: nb·n doubles; pack: 2·ceil(n/4)·4·2nb doubles; t: 2nb doubles.
__attribute__((export_name("tridiagonalize"))) void tridiagonalize(int n, int nb, double *w, double *diag, double *off,
                                                                   double *wmat, double *pack, double *t) {
  for (int s = 0; s < n; s += nb) {
    const int width = n - s < nb ? n - s : nb;
    reduce_panel(w, n, s, width, diag, off, wmat, t);
    syr2k_upper(w, n, s + width, s, width, wmat, pack);
  }
}
