// Scaling fits (DESIGN §1.10) recover known parameters from synthetic families, say plainly when a
// family is too small, and correlations agree with hand-computed values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { powerLawOffset, powerLawOffsetFit, POWER_LAW_OFFSET_MIN_POINTS } from '../../src/fit/powerLawOffsetFit.ts';
import { logLinear, logLinearFit, LOG_LINEAR_MIN_POINTS } from '../../src/fit/logLinearFit.ts';
import { averageRanks, correlateWithLoss, pearson, spearman } from '../../src/fit/correlation.ts';
import type { FitResult } from '../../src/fit/fitResult.ts';
import { mulberry32 } from '../../src/metrics/prng.ts';
import { InputError } from '../../src/errors.ts';

// Parameter counts of a typical family (125M … 30B), unevenly spaced as real families are.
const SIZES = [1.25e8, 3.5e8, 7.6e8, 1.3e9, 2.7e9, 6.7e9, 1.3e10, 3.0e10];

function gaussian(seed: number): () => number {
  const rand = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

function close(actual: number, expected: number, relTol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= relTol * Math.max(Math.abs(expected), 1e-300), `${what}: ${actual} vs ${expected}`);
}

function ok<P extends string>(fit: FitResult<P>): Extract<FitResult<P>, { ok: true }> {
  assert.ok(fit.ok, fit.ok ? '' : fit.reason);
  return fit as Extract<FitResult<P>, { ok: true }>;
}

test('power law with offset recovers a, b, c from exact points, decreasing or increasing', () => {
  for (const truth of [
    { a: 420, b: 0.34, c: 1.69 }, // loss-like: falls towards an irreducible level
    { a: -3.2, b: 0.08, c: 6.5 }, // rises towards a ceiling
    { a: 2e4, b: 0.5, c: 0 },
  ]) {
    const y = SIZES.map((x) => powerLawOffset(truth, x));
    const fit = ok(powerLawOffsetFit(SIZES, y, { bootstrapResamples: 50 }));
    close(fit.params.a, truth.a, 1e-5, 'a');
    close(fit.params.b, truth.b, 1e-6, 'b');
    assert.ok(Math.abs(fit.params.c - truth.c) <= 1e-6 * Math.max(1, Math.abs(truth.c)), `c: ${fit.params.c} vs ${truth.c}`);
    assert.ok(fit.r2 > 1 - 1e-10, `R² ${fit.r2}`);
    assert.equal(fit.residuals.length, SIZES.length);
    for (const r of fit.residuals) assert.ok(Math.abs(r) < 1e-7);
  }
});

test('power law with offset, with small seeded noise, stays near the truth, and its intervals cover it', () => {
  const truth = { a: 420, b: 0.34, c: 1.69 };
  const noise = gaussian(11);
  const x = [...SIZES, ...SIZES.map((s) => s * 1.5)];
  const y = x.map((xi) => powerLawOffset(truth, xi) + 0.002 * noise());
  const fit = ok(powerLawOffsetFit(x, y, { bootstrapResamples: 300, seed: 5 }));
  close(fit.params.b, truth.b, 0.1, 'b');
  close(fit.params.c, truth.c, 0.02, 'c');
  assert.ok(fit.r2 > 0.999, `R² ${fit.r2}`);
  assert.ok(fit.intervals, 'intervals');
  for (const p of ['a', 'b', 'c'] as const) {
    const { low, high } = fit.intervals[p];
    assert.ok(low <= fit.params[p] && fit.params[p] <= high, `${p} estimate inside its interval`);
    assert.ok(low <= truth[p] && truth[p] <= high, `${p}: ${truth[p]} not in [${low}, ${high}]`);
  }
  for (let i = 0; i < x.length; i++) close(fit.residuals[i], y[i] - powerLawOffset(fit.params, x[i]), 1e-9, 'residual');
});

test('bootstrap intervals are reproducible from the seed', () => {
  const noise = gaussian(3);
  const y = SIZES.map((x) => powerLawOffset({ a: 50, b: 0.25, c: 2 }, x) + 0.01 * noise());
  const a = powerLawOffsetFit(SIZES, y, { bootstrapResamples: 100, seed: 9 });
  const b = powerLawOffsetFit(SIZES, y, { bootstrapResamples: 100, seed: 9 });
  const c = powerLawOffsetFit(SIZES, y, { bootstrapResamples: 100, seed: 10 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(ok(a).intervals, ok(c).intervals);
  assert.equal(ok(a).bootstrap.seed, 9);
  assert.ok(ok(a).bootstrap.fitted > 50);
});

test('log-linear is exact on exact points', () => {
  const truth = { a: 12.5, b: -0.37 };
  const y = SIZES.map((x) => logLinear(truth, x));
  const fit = ok(logLinearFit(SIZES, y, { bootstrapResamples: 200 }));
  close(fit.params.a, truth.a, 1e-12, 'a');
  close(fit.params.b, truth.b, 1e-12, 'b');
  assert.equal(fit.r2, 1);
  for (const r of fit.residuals) assert.ok(Math.abs(r) < 1e-12);
  // Every resample of exact points gives the same line, so the intervals collapse onto it.
  assert.ok(fit.intervals);
  close(fit.intervals.b.low, truth.b, 1e-10, 'b low');
  close(fit.intervals.b.high, truth.b, 1e-10, 'b high');
});

test('log-linear with seeded noise covers the truth', () => {
  const truth = { a: 3, b: 0.21 };
  const noise = gaussian(4);
  const y = SIZES.map((x) => logLinear(truth, x) + 0.05 * noise());
  const fit = ok(logLinearFit(SIZES, y, { seed: 1 }));
  close(fit.params.b, truth.b, 0.1, 'b');
  assert.ok(fit.intervals && fit.intervals.b.low <= truth.b && truth.b <= fit.intervals.b.high);
  assert.ok(fit.r2 > 0.95 && fit.r2 < 1);
});

test('too few points give a result that says so, not an error', () => {
  const three = SIZES.slice(0, 3);
  const four = SIZES.slice(0, 4);
  const pl = powerLawOffsetFit(four, four.map((x) => powerLawOffset({ a: 1, b: 0.3, c: 1 }, x)));
  assert.equal(pl.ok, false);
  assert.ok(!pl.ok && pl.minPoints === POWER_LAW_OFFSET_MIN_POINTS && /at least 5 distinct parameter counts, got 4/.test(pl.reason));
  // Repeated sizes (several seeds per size) are not extra points for the shape.
  const repeated = [...three, ...three];
  assert.equal(powerLawOffsetFit(repeated, repeated.map((x) => Math.log(x))).ok, false);
  const two = SIZES.slice(0, 2);
  const ll = logLinearFit(two, [1, 2]);
  assert.ok(!ll.ok && ll.minPoints === LOG_LINEAR_MIN_POINTS && /at least 3 distinct parameter counts, got 2/.test(ll.reason));
  assert.equal(logLinearFit([], []).ok, false);
  const flat = powerLawOffsetFit(SIZES, SIZES.map(() => 4));
  assert.ok(!flat.ok && /undetermined/.test(flat.reason));
  assert.equal(ok(logLinearFit(SIZES, SIZES.map(() => 4), { bootstrapResamples: 0 })).params.b, 0);
});

test('invalid points are an InputError', () => {
  assert.throws(() => powerLawOffsetFit([1, 2, 3, 0], [1, 2, 3, 4]), InputError);
  assert.throws(() => logLinearFit([1, 2, 3], [1, NaN, 3]), InputError);
  assert.throws(() => logLinearFit([1, 2, 3], [1, 2]), InputError);
  assert.throws(() => powerLawOffsetFit([1, 2, 3, 4, 5], [1, 2, 3, 4, 5], { bootstrapResamples: -1 }), InputError);
});

test('correlations match hand-computed values', () => {
  const x = [1, 2, 3, 4, 5];
  const y = [2, 4, 5, 4, 5];
  // Σdxdy = 6, Σdx² = 10, Σdy² = 6 → r = 6/√60.
  close(pearson(x, y), 6 / Math.sqrt(60), 1e-14, 'pearson');
  // Ranks of y with ties averaged: [1, 2.5, 4.5, 2.5, 4.5] → ρ = 7/√90.
  assert.deepEqual(averageRanks(y), [1, 2.5, 4.5, 2.5, 4.5]);
  close(spearman(x, y), 7 / Math.sqrt(90), 1e-14, 'spearman');
  // Monotone but curved: Spearman sees a perfect relation, Pearson does not.
  const loss = x.map((v) => Math.exp(-v));
  const r = correlateWithLoss(x, loss);
  assert.ok(r.ok);
  assert.equal(r.spearman, -1);
  assert.ok(r.pearson > -1 && r.pearson < -0.8);
  assert.deepEqual(correlateWithLoss([1, 2, 3], [3, 2, 1]), { ok: true, n: 3, pearson: -1, spearman: -1 });
});

test('correlation with too few or constant points says why', () => {
  const two = correlateWithLoss([1, 2], [2, 1]);
  assert.ok(!two.ok && /at least 3 models, got 2/.test(two.reason));
  const flat = correlateWithLoss([1, 1, 1], [1, 2, 3]);
  assert.ok(!flat.ok && /metric is the same/.test(flat.reason));
  assert.throws(() => correlateWithLoss([1, 2, 3], [1, 2]), InputError);
});
