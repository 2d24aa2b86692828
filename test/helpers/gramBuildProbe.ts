// Child process of test/unit/gramThreads.test.ts: reports which kernel builds load in a fresh
// process (so ENTROSCOPE_WASM_FMA can be set before the first check) and how far the Gram of a
// fixed 90×777 matrix, on 2 threads, is from the TypeScript kernel's, relative to its largest entry.
import { upperGramRowsWasm, wasmGramBuild } from '../../src/linalg/gramWasm.ts';
import { upperGramRowsTs } from '../../src/linalg/gram.ts';
import { wasmTridiagonalizeBuild } from '../../src/linalg/tridiagonalizeWasm.ts';

const rows = 90;
const cols = 777;
const z = Float64Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37) + Math.cos(i * 1.1));
const a = new Float64Array(rows * rows);
const b = new Float64Array(rows * rows);
upperGramRowsWasm(a, z, rows, cols, { threads: 2 });
upperGramRowsTs(b, z, rows, cols);
let err = 0;
let scale = 0;
for (let i = 0; i < rows; i++) {
  for (let j = i; j < rows; j++) {
    err = Math.max(err, Math.abs(a[i * rows + j] - b[i * rows + j]));
    scale = Math.max(scale, Math.abs(b[i * rows + j]));
  }
}
console.log(JSON.stringify({ gram: wasmGramBuild(), eigen: wasmTridiagonalizeBuild(), rel: err / scale }));
