// The native linear-algebra backend: the system's OpenBLAS (BLAS level 2/3, LAPACK), called through
// koffi (a maintained FFI package with prebuilt binaries). Serves the Gram kernels (nativeGram.ts:
// S += ZᵀZ and ZZᵀ as blocks of cblas_dsyrk/dgemm) and the eigenvalues (nativeTridiagonal.ts:
// dsyevd with jobz = 'N'; opt-in, LAPACK's dsytrd reduction driven from there — dlatrd panels,
// dsyr2k trailing updates as blocks over helper threads — then dsterf). Selected once per process:
//
//   ENTROSCOPE_LINALG = auto (default): native when OpenBLAS loads, else the WebAssembly kernels
//                       native: native or a clear error naming the library and how to install it
//                       wasm: never load the library
//   ENTROSCOPE_BLAS_LIB: the library file to load (default: libopenblas.so.0, then libopenblas.so,
//                        libopenblas.dylib)
//
// Threads: OpenBLAS is set to one thread when it loads, and stays there: its own threaded dsyrk
// and dsyevd give results that depend on the thread count (measured), so nativeGram.ts (and the
// opt-in reduction of nativeTridiagonal.ts) split their work themselves over helper threads
// (nativeHelpers.ts) by fixed block partitions (bit-identical for any thread count); dsyevd runs
// on the calling thread. Every call is counted busy in
// coreBudget.ts (shared with inference), and helpers only take idle cores of that budget.
import { createRequire } from 'node:module';
import { holdCore } from './coreBudget.ts';
import { whileLoadingNative } from './nativeLoading.ts';
import type { BlockBlas } from './nativeGramBlocks.mjs';
import type { Rank2kBlas } from './nativeTridiagonalBlocks.mjs';

type Backend = 'auto' | 'native' | 'wasm';

type F64 = Float64Array;
type I32 = Int32Array;

export interface Blas extends BlockBlas, Rank2kBlas {
  /** Path or name the library was loaded from. */
  library: string;
  config: string;
  setThreads: (n: number) => void;
  /** Fortran LAPACK dsyevd_ (all by reference, then the two hidden string lengths). */
  dsyevd: (
    jobz: Uint8Array, uplo: Uint8Array, n: Int32Array, a: Float64Array, lda: Int32Array, w: Float64Array,
    work: Float64Array, lwork: Int32Array, iwork: Int32Array, liwork: Int32Array, info: Int32Array, l1: number, l2: number,
  ) => void;
  /** LAPACK dlatrd_(uplo, n, nb, a, lda, e, tau, w, ldw, len): one panel of dsytrd. */
  dlatrd: (uplo: Uint8Array, n: I32, nb: I32, a: F64, lda: I32, e: F64, tau: F64, w: F64, ldw: I32, l1: number) => void;
  /** LAPACK dsytd2_(uplo, n, a, lda, d, e, tau, info, len): unblocked tridiagonal reduction. */
  dsytd2: (uplo: Uint8Array, n: I32, a: F64, lda: I32, d: F64, e: F64, tau: F64, info: I32, l1: number) => void;
  /** LAPACK dsterf_(n, d, e, info): eigenvalues of a symmetric tridiagonal matrix (root-free QL/QR). */
  dsterf: (n: I32, d: F64, e: F64, info: I32) => void;
  /** LAPACK dlarfg_(n, alpha, x, incx, tau): an elementary reflector; every argument a raw address. */
  dlarfg: (n: number, alpha: number, x: number, incx: number, tau: number) => void;
  /** cblas_dscal / ddot / daxpy with raw addresses for the arrays. */
  dscal: (n: number, alpha: number, x: number, incx: number) => void;
  ddot: (n: number, x: number, incx: number, y: number, incy: number) => number;
  daxpy: (n: number, alpha: number, x: number, incx: number, y: number, incy: number) => void;
  /** The address (bytes) of a typed array's first element, for the raw-address functions. Only for
   * memory that cannot move while in use: SharedArrayBuffers (V8 never moves their backing store). */
  address: (a: Float64Array | Int32Array) => number;
}

let loaded: Blas | null | undefined; // undefined: not tried; null: unavailable
let loadError = '';

/** The backend ENTROSCOPE_LINALG asks for (throws on an unknown value). */
export function requestedBackend(): Backend {
  const v = (process.env.ENTROSCOPE_LINALG ?? 'auto').trim().toLowerCase();
  if (v === 'auto' || v === '') return 'auto';
  if (v === 'native' || v === 'wasm') return v;
  throw new Error(`ENTROSCOPE_LINALG must be auto, native or wasm, got ${JSON.stringify(process.env.ENTROSCOPE_LINALG)}`);
}

function candidates(): string[] {
  const env = process.env.ENTROSCOPE_BLAS_LIB;
  if (env) return [env];
  return process.platform === 'darwin' ? ['libopenblas.dylib', '/opt/homebrew/opt/openblas/lib/libopenblas.dylib'] : ['libopenblas.so.0', 'libopenblas.so'];
}

function tryLoad(): Blas | null {
  let koffi: typeof import('koffi');
  try {
    koffi = whileLoadingNative(() => createRequire(import.meta.url)('koffi') as typeof import('koffi'));
  } catch (err) {
    loadError = `the koffi package did not load (${(err as Error).message})`;
    return null;
  }
  const errors: string[] = [];
  for (const name of candidates()) {
    try {
      const lib = whileLoadingNative(() => koffi.load(name));
      const blas: Blas = {
        library: name,
        config: (lib.func('const char *openblas_get_config()') as () => string)(),
        setThreads: lib.func('void openblas_set_num_threads(int)') as Blas['setThreads'],
        dsyrk: lib.func('void cblas_dsyrk(int, int, int, int, int, double, void *, int, double, void *, int)') as Blas['dsyrk'],
        dgemm: lib.func('void cblas_dgemm(int, int, int, int, int, int, double, void *, int, void *, int, double, void *, int)') as Blas['dgemm'],
        dsyevd: lib.func(
          'void dsyevd_(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, size_t, size_t)',
        ) as Blas['dsyevd'],
        dsyr2k: lib.func('void cblas_dsyr2k(int, int, int, int, int, double, void *, int, void *, int, double, void *, int)') as Blas['dsyr2k'],
        dlatrd: lib.func('void dlatrd_(void *, void *, void *, void *, void *, void *, void *, void *, void *, size_t)') as Blas['dlatrd'],
        dsytd2: lib.func('void dsytd2_(void *, void *, void *, void *, void *, void *, void *, void *, size_t)') as Blas['dsytd2'],
        dsterf: lib.func('void dsterf_(void *, void *, void *, void *)') as Blas['dsterf'],
        // The level-1/2 calls of the reduction's panel run n times per solve: raw addresses (intptr_t),
        // which koffi converts several times faster than typed arrays (~1 µs against 2–7 µs a call).
        dlarfg: lib.func('void dlarfg_(intptr_t, intptr_t, intptr_t, intptr_t, intptr_t)') as Blas['dlarfg'],
        dgemv: lib.func('void cblas_dgemv(int, int, int, int, double, intptr_t, int, intptr_t, int, double, intptr_t, int)') as Blas['dgemv'],
        dsymv: lib.func('void cblas_dsymv(int, int, int, double, intptr_t, int, intptr_t, int, double, intptr_t, int)') as Blas['dsymv'],
        dscal: lib.func('void cblas_dscal(int, double, intptr_t, int)') as Blas['dscal'],
        ddot: lib.func('double cblas_ddot(int, intptr_t, int, intptr_t, int)') as Blas['ddot'],
        daxpy: lib.func('void cblas_daxpy(int, double, intptr_t, int, intptr_t, int)') as Blas['daxpy'],
        address: (a) => {
          if (!(a.buffer instanceof SharedArrayBuffer) || a.byteOffset !== 0) throw new TypeError('raw addresses are only taken of whole shared buffers');
          return Number(koffi.address(a));
        },
      };
      blas.setThreads(1);
      return blas;
    } catch (err) {
      errors.push(`${name}: ${(err as Error).message}`);
    }
  }
  loadError = `OpenBLAS (with LAPACK) did not load: ${errors.join('; ')}`;
  return null;
}

/** The loaded library, or undefined when the WebAssembly kernels are to be used. Throws when
 * ENTROSCOPE_LINALG=native and the library is absent. */
export function blas(): Blas | undefined {
  const want = requestedBackend();
  if (want === 'wasm') return undefined;
  if (loaded === undefined) loaded = tryLoad();
  if (loaded === null) {
    if (want === 'native') {
      throw new Error(
        `ENTROSCOPE_LINALG=native but ${loadError}. Install OpenBLAS (Debian/Ubuntu: apt-get install libopenblas0-pthread; ` +
          'macOS: brew install openblas), point ENTROSCOPE_BLAS_LIB at the library, or unset ENTROSCOPE_LINALG',
      );
    }
    return undefined;
  }
  return loaded;
}

/** 'native' when the OpenBLAS backend serves the kernels in this process, else 'wasm'. */
export function linalgBackend(): 'native' | 'wasm' {
  return blas() === undefined ? 'wasm' : 'native';
}

/** Library name and OpenBLAS build string of the native backend (undefined when not in use). */
export function nativeBlasInfo(): { library: string; config: string } | undefined {
  const b = blas();
  return b === undefined ? undefined : { library: b.library, config: b.config };
}

const JOBZ_N = new Uint8Array([0x4e]); // 'N': eigenvalues only
// Row-major upper triangle = column-major lower triangle.
const UPLO_L = new Uint8Array([0x4c]);

/**
 * Eigenvalues, ascending, of the symmetric n×n `w` (row-major, upper triangle read), by LAPACK
 * dsyevd with jobz = 'N' (dsytrd then dsterf, with LAPACK's own scaling). `w` is overwritten.
 * Returns undefined when the native backend is not in use; throws if LAPACK reports failure.
 */
export function symmetricEigenvaluesNative(w: Float64Array, n: number): Float64Array | undefined {
  const b = blas();
  if (b === undefined) return undefined;
  const lambda = new Float64Array(n);
  if (n === 0) return lambda;
  const nn = Int32Array.of(n);
  const info = new Int32Array(1);
  // Workspace query (lwork = liwork = −1), then the solve.
  const wq = new Float64Array(1);
  const iq = new Int32Array(1);
  const minus1 = Int32Array.of(-1);
  b.dsyevd(JOBZ_N, UPLO_L, nn, w, nn, lambda, wq, minus1, iq, minus1, info, 1, 1);
  if (info[0] !== 0) throw new Error(`LAPACK dsyevd workspace query failed (info = ${info[0]})`);
  const lwork = Math.max(1, Math.ceil(wq[0]));
  const liwork = Math.max(1, iq[0]);
  const work = new Float64Array(lwork);
  const iwork = new Int32Array(liwork);
  holdCore(() => b.dsyevd(JOBZ_N, UPLO_L, nn, w, nn, lambda, work, Int32Array.of(lwork), iwork, Int32Array.of(liwork), info, 1, 1));
  if (info[0] < 0) throw new Error(`LAPACK dsyevd: argument ${-info[0]} had an illegal value`);
  if (info[0] > 0) throw new Error(`LAPACK dsyevd did not converge (${info[0]} off-diagonal elements did not reach zero)`);
  return lambda;
}
