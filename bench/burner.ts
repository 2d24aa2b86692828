// A CPU-bound thread for bench/inferenceFloor.ts `--burner NICE`: it runs per-sample metrics
// (sampleMetrics on one 25 × 576 sample) in a loop at the given nice value and counts them in
// shared memory, to see how much of a core inference leaves idle (BENCHMARKS.md, session 11).
// Run alone (`node --import tsx bench/burner.ts`), it prints its own rate over 8 s.
import { isMainThread, workerData } from 'node:worker_threads';
import { lowerThreadPriority } from '../src/eval/threadPriority.ts';
import { sampleMetrics } from '../src/metrics/sampleMetrics.ts';

const d = 576;
const n = 25;
const x = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 0.37) + Math.cos(i * 0.011));
const out = new Float64Array(n * d);

if (isMainThread) {
  const end = performance.now() + 8000;
  let count = 0;
  for (; performance.now() < end; count++) sampleMetrics(x, n, d, { out });
  console.log(JSON.stringify({ samplesPerS: count / 8 }));
} else {
  const { counter, nice } = workerData as { counter: SharedArrayBuffer; nice: number };
  if (nice === 19 && !lowerThreadPriority()) throw new Error('could not lower this thread to nice 19');
  const c = new Int32Array(counter);
  for (;;) {
    sampleMetrics(x, n, d, { out });
    Atomics.add(c, 0, 1);
  }
}
