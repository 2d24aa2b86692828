// Symmetric rank-k update S += AᵀA on the upper triangle (BLAS dsyrk, uplo='U'), WebAssembly SIMD
// build of the hot loop of src/linalg/gram.ts (`syrkUpper`, and `smallerGram`'s N×N side as the
// same update on Zᵀ). A is K×n with element (t, i) at a[t·rs + i·cs], so one kernel serves both
// ZᵀZ (A = Z: rs = cols, cs = 1) and ZZᵀ (A = Zᵀ: rs = 1, cs = cols).
//
// Blocking: the K rows go in blocks of up to KC; each block is packed as ⌈n/4⌉ column tiles of
// KC×4 doubles (tile b holds columns 4b..4b+3 of A, row after row, zero past n), so a 4×4 tile of
// S is 16 dot products over two contiguous streams, held in eight f64x2 accumulators (per row of
// the block: four splat loads, two vector loads, eight multiplies, eight adds). Tiles of S are
// visited column block by column block (COLUMN_BLOCK columns of S = KC×COLUMN_BLOCK doubles of
// pack, which stays in L2 while the rows of tiles sweep it). Only tiles with j ≥ i are computed;
// inside diagonal tiles only entries with j ≥ i are written, and entries past n never are, so the
// lower triangle of S is left exactly as it was.
//
// Multiply-add: built twice by infra/build-wasm.sh (clang --target=wasm32 -msimd128, no libc), both
// committed: gram.wasm with a separate multiply and add (-ffp-contract=off, so the arithmetic is
// exactly what is written), and gram-fma.wasm with -DFMA -mrelaxed-simd, where each step is
// f64x2.relaxed_madd (one fused multiply-add on hardware that has it: half the instructions of
// the inner loop). gramWasm.ts picks gram-fma.wasm when the runtime validates relaxed SIMD.
//
// Threads: `syrk_upper_cols` computes only the tiles whose column tile lies in [tile_from,
// tile_to), packing only the tiles it reads. Every tile of S is computed by one call with the same
// sequence of operations whatever the column range, so S is bit-identical however the columns are
// split among threads (see gramThreads.ts). The module uses no stack and no globals besides the
// heap base, so several instances may share one linear memory.
//
// Exports: syrk_upper, syrk_upper_cols, pack_doubles, memory, __heap_base.

#include <wasm_simd128.h>

#define TILE 4
#ifndef KC
#define KC 256
#endif
#ifndef COLUMN_BLOCK
#define COLUMN_BLOCK 64
#endif

#ifdef FMA
/** c + a·b, fused where the hardware has FMA. */
#define MADD(c, a, b) wasm_f64x2_relaxed_madd(a, b, c)
#else
#define MADD(c, a, b) wasm_f64x2_add(c, wasm_f64x2_mul(a, b))
#endif

/** Doubles of pack scratch syrk_upper needs for n columns (KC rows of packed tiles, then 16 doubles
 * where a ragged tile is spilled). */
__attribute__((export_name("pack_doubles"))) int pack_doubles(int n) { return KC * ((n + TILE - 1) / TILE) * TILE + TILE * TILE; }

/** Packs column tiles [0, tiles) of rows t0..t0+k−1 of A. */
static void pack_block(const double *restrict a, int n, int tiles, int t0, int k, int rs, int cs, double *restrict pack) {
  for (int b = 0; b < tiles; b++) {
    double *p = pack + (long)b * k * TILE;
    for (int c = 0; c < TILE; c++) {
      const int i = b * TILE + c;
      if (i < n) {
        const double *src = a + (long)t0 * rs + (long)i * cs;
        if (rs == 1) {
          for (int t = 0; t < k; t++) p[t * TILE + c] = src[t];
        } else {
          for (int t = 0; t < k; t++) p[t * TILE + c] = src[(long)t * rs];
        }
      } else {
        for (int t = 0; t < k; t++) p[t * TILE + c] = 0;
      }
    }
  }
}

static void add_tile(double *restrict s, int n, int i0, int j0, v128_t c00, v128_t c02, v128_t c10, v128_t c12, v128_t c20,
                     v128_t c22, v128_t c30, v128_t c32, double *restrict spill) {
  if (j0 > i0 && j0 + TILE <= n) {
    // Off the diagonal and inside S: the whole tile is upper triangle.
    double *o = s + (long)i0 * n + j0;
    wasm_v128_store(o, wasm_f64x2_add(wasm_v128_load(o), c00));
    wasm_v128_store(o + 2, wasm_f64x2_add(wasm_v128_load(o + 2), c02));
    o += n;
    wasm_v128_store(o, wasm_f64x2_add(wasm_v128_load(o), c10));
    wasm_v128_store(o + 2, wasm_f64x2_add(wasm_v128_load(o + 2), c12));
    o += n;
    wasm_v128_store(o, wasm_f64x2_add(wasm_v128_load(o), c20));
    wasm_v128_store(o + 2, wasm_f64x2_add(wasm_v128_load(o + 2), c22));
    o += n;
    wasm_v128_store(o, wasm_f64x2_add(wasm_v128_load(o), c30));
    wasm_v128_store(o + 2, wasm_f64x2_add(wasm_v128_load(o + 2), c32));
    return;
  }
  double *acc = spill;
  wasm_v128_store(acc, c00); wasm_v128_store(acc + 2, c02);
  wasm_v128_store(acc + 4, c10); wasm_v128_store(acc + 6, c12);
  wasm_v128_store(acc + 8, c20); wasm_v128_store(acc + 10, c22);
  wasm_v128_store(acc + 12, c30); wasm_v128_store(acc + 14, c32);
  for (int r = 0; r < TILE && i0 + r < n; r++) {
    const int i = i0 + r;
    for (int c = 0; c < TILE && j0 + c < n; c++) {
      const int j = j0 + c;
      if (j >= i) s[(long)i * n + j] += acc[r * TILE + c];
    }
  }
}

/**
 * S (n×n row-major) += AᵀA on the upper triangle, for the columns j of S in column tiles
 * [tile_from, tile_to) (tile b: columns 4b..4b+3); A: K×n, element (t, i) at a[t·rs + i·cs].
 * pack: pack_doubles(n) doubles of scratch, private to the call.
 */
__attribute__((export_name("syrk_upper_cols"))) void syrk_upper_cols(double *restrict s, int n, const double *restrict a, int K, int rs,
                                                                   int cs, double *restrict pack, int tile_from, int tile_to) {
  const int tiles = (n + TILE - 1) / TILE;
  if (tile_to > tiles) tile_to = tiles;
  if (n <= 0 || K <= 0 || tile_from >= tile_to) return;
  const int tilesPerBlock = COLUMN_BLOCK / TILE;
  double *spill = pack + (long)KC * tiles * TILE;
  for (int t0 = 0; t0 < K; t0 += KC) {
    const int k = K - t0 < KC ? K - t0 : KC;
    pack_block(a, n, tile_to, t0, k, rs, cs, pack);
    const int panel = k * TILE;
    for (int cb = tile_from; cb < tile_to; cb += tilesPerBlock) {
      const int cbEnd = cb + tilesPerBlock < tile_to ? cb + tilesPerBlock : tile_to;
      for (int ti = 0; ti < cbEnd; ti++) {
        const double *lp = pack + (long)ti * panel;
        for (int tj = cb > ti ? cb : ti; tj < cbEnd; tj++) {
          const double *rp = pack + (long)tj * panel;
          v128_t c00 = wasm_f64x2_splat(0), c02 = c00, c10 = c00, c12 = c00;
          v128_t c20 = c00, c22 = c00, c30 = c00, c32 = c00;
          for (int q = 0; q < k; q++) {
            const double *l = lp + q * TILE;
            const v128_t r01 = wasm_v128_load(rp + q * TILE);
            const v128_t r23 = wasm_v128_load(rp + q * TILE + 2);
            v128_t x = wasm_v128_load64_splat(l);
            c00 = MADD(c00, x, r01);
            c02 = MADD(c02, x, r23);
            x = wasm_v128_load64_splat(l + 1);
            c10 = MADD(c10, x, r01);
            c12 = MADD(c12, x, r23);
            x = wasm_v128_load64_splat(l + 2);
            c20 = MADD(c20, x, r01);
            c22 = MADD(c22, x, r23);
            x = wasm_v128_load64_splat(l + 3);
            c30 = MADD(c30, x, r01);
            c32 = MADD(c32, x, r23);
          }
          add_tile(s, n, ti * TILE, tj * TILE, c00, c02, c10, c12, c20, c22, c30, c32, spill);
        }
      }
    }
  }
}

/** S (n×n row-major) += AᵀA on the upper triangle, all columns (see syrk_upper_cols). */
__attribute__((export_name("syrk_upper"))) void syrk_upper(double *restrict s, int n, const double *restrict a, int K, int rs, int cs,
                                                         double *restrict pack) {
  syrk_upper_cols(s, n, a, K, rs, cs, pack, 0, (n + TILE - 1) / TILE);
}
