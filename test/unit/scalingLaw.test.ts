// The choice of a scaling law (src/fit/scalingLaw.ts) agrees with an independent numpy computation
// (test/oracle/scaling_fits.py: numpy.polyfit for the two-parameter forms, a dense scan + lstsq for
// the offset form, leave-one-out by refitting): same parameters, R², leave-one-out error and chosen
// form; and on ill-posed families (the four GPT-2 sizes) no curve that leaves the physical
// range or explodes next to the points is ever drawn — the fit is refused and says why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fitScalingLaw, formValue, type PhysicalRange, type ScalingLaw } from '../../src/fit/scalingLaw.ts';
import { mulberry32 } from '../../src/metrics/prng.ts';

const PYTHON = join(homedir(), '.cache', 'entroscope', 'venv', 'bin', 'python');
const ORACLE = fileURLToPath(new URL('../oracle/scaling_fits.py', import.meta.url));

interface OracleForm {
  params: Record<string, number>;
  sse: number;
  r2: number;
  looRmse: number;
  curveMin: number;
  curveMax: number;
  checks: { inRange: boolean; nearData: boolean; r2ok: boolean };
  passes: boolean;
}
interface OracleResult {
  forms: Record<string, OracleForm | null>;
  chosen: string | null;
}

function oracle(cases: Array<{ x: number[]; y: number[]; range: PhysicalRange }>): OracleResult[] {
  // Installed by `npm test` (infra/install.sh); missing, it is a failure, never a skip.
  assert.ok(existsSync(PYTHON), `no Python oracle at ${PYTHON}: run infra/install-python.sh`);
  const input = JSON.stringify({
    cases: cases.map((c) => ({ x: c.x, y: c.y, low: Number.isFinite(c.range.low) ? c.range.low : null, high: Number.isFinite(c.range.high) ? c.range.high : null })),
  });
  return (JSON.parse(execFileSync(PYTHON, [ORACLE], { input, encoding: 'utf8' })) as { results: OracleResult[] }).results;
}

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}

// The family: four GPT-2 models of one recipe, 0.3M–6M parameters.
const GPT2 = [3.1e5, 1.2e6, 2.6e6, 6.0e6];
const SIX = [1.4e7, 7e7, 1.6e8, 4.1e8, 1e9, 2.8e9];
const noise = (() => {
  const r = mulberry32(17);
  return () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
})();

const CASES: Array<{ label: string; x: number[]; y: number[]; range: PhysicalRange }> = [
  { label: 'exact log-linear normalized entropy, 4 sizes', x: GPT2, y: GPT2.map((x) => 0.2 + 0.03 * Math.log(x)), range: { low: 0, high: 1 } },
  { label: 'exact power-law eRank, 4 sizes', x: GPT2, y: GPT2.map((x) => 90 * Math.pow(x, -0.1)), range: { low: 1, high: 64 } },
  { label: 'power law with offset, 6 sizes, small noise', x: SIX, y: SIX.map((x) => 400 * Math.pow(x, -0.3) + 12 + 0.001 * noise()), range: { low: 1, high: 768 } },
  { label: 'noisy log-linear loss, 6 sizes', x: SIX, y: SIX.map((x) => 9 - 0.3 * Math.log(x) + 0.02 * noise()), range: { low: 0, high: Infinity } },
  // eRank at block.0: flat, then a drop at the largest model (the issue's −3.67e-82·x^12 + 3.663).
  { label: 'flat-then-drop eRank, 4 sizes', x: GPT2, y: [3.662, 3.665, 3.661, 3.2], range: { low: 1, high: 64 } },
  // Normalized entropy rising into its ceiling: every form runs past 1 just after the largest model.
  { label: 'normalized entropy rising into 1', x: [1e6, 2e6, 4e6, 8e6], y: [0.85, 0.91, 0.97, 0.995], range: { low: 0, high: 1 } },
  // No trend at all: R² of every form is poor.
  { label: 'scatter without trend', x: GPT2, y: [0.51, 0.55, 0.5, 0.54], range: { low: 0, high: 1 } },
];

function fitAll(): ScalingLaw[] {
  return CASES.map((c) => fitScalingLaw(c.x, c.y, { range: c.range, bootstrapResamples: 200, seed: 3 }));
}

test('parameters, R² and leave-one-out error of every form agree with numpy (polyfit; scan + lstsq for the offset form)', () => {
  const ours = fitAll();
  const theirs = oracle(CASES);
  CASES.forEach((c, i) => {
    for (const cand of ours[i].candidates) {
      const o = theirs[i].forms[cand.form];
      if (!cand.fit.ok) {
        assert.ok(o === null || o === undefined, `${c.label}, ${cand.form}: numpy fitted it, we did not (${cand.fit.reason})`);
        continue;
      }
      assert.ok(o, `${c.label}, ${cand.form}: numpy could not fit it`);
      const what = `${c.label}, ${cand.form}`;
      if (cand.form === 'powerLawOffset') {
        // Nonlinear: ours must reach the independent search's minimum of the squared error.
        const sse = cand.fit.residuals.reduce((s, r) => s + r * r, 0);
        assert.ok(sse <= o.sse * (1 + 1e-6) + 1e-18, `${what}: SSE ${sse} vs numpy ${o.sse}`);
        close(cand.fit.params.b, o.params.b, 1e-3, `${what} b`);
        close(cand.fit.params.c, o.params.c, 1e-3, `${what} c`);
      } else {
        for (const k of ['a', 'b']) close(cand.fit.params[k], o.params[k], 1e-9, `${what} ${k}`);
        close(cand.looRmse!, o.looRmse, 1e-7, `${what} LOO RMSE`);
      }
      close(cand.fit.r2, o.r2, 1e-6, `${what} R²`);
    }
  });
});

test('the chosen form is the one with the lowest leave-one-out error among those numpy finds admissible', () => {
  const ours = fitAll();
  const theirs = oracle(CASES);
  const expected = ['logLinear', 'powerLaw', 'powerLawOffset'];
  CASES.forEach((c, i) => {
    const law = ours[i];
    const o = theirs[i];
    // Forms numpy rejects (curve outside the physical range or the data's bounds, R² < 0.5) are never used.
    for (const cand of law.candidates) {
      const of = o.forms[cand.form];
      if (of && !of.passes) assert.equal(cand.usable, false, `${c.label}: ${cand.form} used although ${JSON.stringify(of.checks)}`);
      // The only extra reason ours may have is the bootstrap band (it needs resampling, which numpy does not repeat).
      if (of && of.passes && !cand.usable) assert.match(cand.reason ?? '', /bootstrap 95% band/, `${c.label}: ${cand.form}`);
    }
    const bandRefused = law.candidates.some((x) => !x.usable && /bootstrap/.test(x.reason ?? ''));
    if (!bandRefused) assert.equal(law.chosen, o.chosen, `${c.label}: chose ${law.chosen}, numpy ${o.chosen}`);
    if (i < expected.length) assert.equal(law.chosen, expected[i], `${c.label}: the true form`);
  });
});

test('no drawn curve leaves the physical range or runs away from the points; refused fits say why', () => {
  const ours = fitAll();
  CASES.forEach((c, i) => {
    const law = ours[i];
    if (law.chosen) {
      assert.ok(law.curve && law.curve.length > 10);
      const span = Math.max(...c.y) - Math.min(...c.y);
      for (const p of law.curve!) {
        assert.ok(p.y >= c.range.low && p.y <= c.range.high, `${c.label}: curve ${p.y} at ${p.x} outside [${c.range.low}, ${c.range.high}]`);
        assert.ok(p.y >= Math.min(...c.y) - span - 1e-12 && p.y <= Math.max(...c.y) + span + 1e-12, `${c.label}: curve ${p.y} runs away`);
        // Drawn only over the sizes measured, plus a little.
        assert.ok(p.x >= Math.min(...c.x) / 1.3 && p.x <= Math.max(...c.x) * 1.3);
      }
      for (const b of law.band ?? []) assert.ok(b.low >= c.range.low && b.high <= c.range.high && b.low <= b.high, `${c.label}: band`);
    } else {
      assert.equal(law.curve, undefined, `${c.label}: a refused fit draws nothing`);
      assert.ok(law.reason && law.reason.length > 10, `${c.label}: says why`);
    }
  });
  const [, , , , flat, ceiling, scatter] = ours;
  assert.ok(!ceiling.chosen && /leaves the physical range \[0, 1\]/.test(ceiling.reason!), ceiling.reason);
  assert.ok(!scatter.chosen && /poor fit: R²/.test(scatter.reason!), scatter.reason);
  // The ill-posed eRank: whatever is drawn is tame; the offset form is not even tried on 4 sizes.
  assert.ok(!flat.candidates.some((x) => x.form === 'powerLawOffset'));
  for (const cand of flat.candidates) if (cand.fit.ok) assert.ok(Math.abs((cand.fit.params as Record<string, number>).b) < 1, `${cand.form} b = ${(cand.fit.params as Record<string, number>).b}`);
});

test('bootstrap intervals are sane: they hold the estimate, stay within a few units, and are absent with too few sizes', () => {
  const ours = fitAll();
  const offset = ours[2].candidates.find((x) => x.form === 'powerLawOffset')!;
  assert.ok(offset.fit.ok && offset.fit.intervals);
  if (offset.fit.ok && offset.fit.intervals) {
    const iv = offset.fit.intervals as Record<string, { low: number; high: number }>;
    for (const k of ['a', 'b', 'c']) {
      const v = (offset.fit.params as Record<string, number>)[k];
      assert.ok(iv[k].low <= v * (1 + 1e-9) + 1e-12 && v <= iv[k].high * (1 + 1e-9) + 1e-12, `${k}: ${v} in [${iv[k].low}, ${iv[k].high}]`);
    }
    assert.ok(Math.abs(iv.b.high - iv.b.low) < 0.1, `b interval [${iv.b.low}, ${iv.b.high}]`);
  }
  // Three sizes: every resample that can be fitted is the data itself, so no interval rather than a zero-width one.
  const three = fitScalingLaw([1e6, 3e6, 9e6], [2, 2.5, 2.9], { range: { low: 0, high: 10 }, bootstrapResamples: 200 });
  const ll = three.candidates.find((x) => x.form === 'logLinear')!;
  assert.ok(ll.fit.ok && ll.fit.intervals === null);
  assert.equal(three.band, null);
  // The curve is the chosen form's own values.
  const chosen = three.candidates.find((x) => x.form === three.chosen)!;
  if (chosen.fit.ok) for (const p of three.curve!) close(p.y, formValue(chosen.form, chosen.fit.params, p.x), 1e-12, 'curve');
});
