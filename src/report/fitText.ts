// Fits in words and short numbers: the equation of the chosen form, its slope with an interval, and
// one plain sentence per family that answers "how does this metric scale with size?".
//
// Numbers are printed with 3 significant digits (no 1e+118: bounded fits never produce one, and
// exponents are written 1.2e-5 style when they must be). The slope is what a reader compares across
// forms: for log-linear y = a + b·ln x, the change per 10× parameters b·ln 10; for power laws
// y ∝ x^(−b), the exponent −b (y grows as x to that power).
import type { FitModel, Interval } from '../fit/fitResult.ts';
import { FORM_LABEL } from '../fit/scalingLaw.ts';
import { spearman } from '../fit/correlation.ts';
import { metricById } from './metrics.ts';
import type { ScalingFit } from './scalingFits.ts';

/** 3 significant digits, a real minus sign, exponent form only outside [1e-3, 1e6). */
export function num(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  const s = a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(digits - 1).replace(/e\+?/, 'e') : String(+v.toPrecision(digits));
  return s.replace(/^-/, '−').replace(/e-/, 'e−');
}

/** Parameter counts as 14M, 1.3B. */
export function paramCount(v: number): string {
  for (const [u, s] of [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'k']] as const) if (v >= u) return `${+(v / u).toPrecision(3)}${s}`;
  return String(v);
}

function signed(v: number): string {
  return v < 0 ? `− ${num(-v)}` : `+ ${num(v)}`;
}

function power(b: number): string {
  return `x^${num(-b)}`;
}

export function chosenFit(f: ScalingFit): Extract<ScalingFit['law']['candidates'][number]['fit'], { ok: true }> | null {
  const c = f.law.candidates.find((x) => x.form === f.law.chosen);
  return c?.fit.ok ? c.fit : null;
}

/** `y = 3.2 + 0.045·ln x` / `y = 12.1·x^−0.02` / `y = 4.1·x^−0.3 + 1.7`. */
export function equation(form: FitModel, p: Record<string, number>): string {
  if (form === 'logLinear') return `y = ${num(p.a)} ${signed(p.b)}·ln x`;
  if (form === 'powerLaw') return `y = ${num(p.a)}·${power(p.b)}`;
  return `y = ${num(p.a)}·${power(p.b)} ${signed(p.c)}`;
}

export interface Slope {
  /** What the number means. */
  what: string;
  value: number;
  interval: Interval | null;
}

/** The slope a reader compares: per 10× parameters (log-linear) or the exponent of x (power laws). */
export function slopeOf(form: FitModel, p: Record<string, number>, iv: Record<string, Interval> | null): Slope {
  if (form === 'logLinear') {
    const k = Math.LN10;
    return { what: 'change per 10× parameters', value: p.b * k, interval: iv ? { low: iv.b.low * k, high: iv.b.high * k } : null };
  }
  return { what: 'exponent of x', value: -p.b, interval: iv ? { low: -iv.b.high, high: -iv.b.low } : null };
}

export function slopeText(s: Slope): string {
  return `${num(s.value)} ${s.interval ? `[${num(s.interval.low)}, ${num(s.interval.high)}]` : '(no interval: too few sizes)'}`;
}

/** Why there is no fit, shortly: "too few sizes" alone when that is the only reason. */
export function refusal(f: ScalingFit): string {
  const tooFew = f.law.candidates.every((c) => !c.fit.ok && /^too few points/.test(c.fit.reason));
  if (tooFew) {
    const need = Math.min(...f.law.candidates.map((c) => (c.fit.ok ? Infinity : c.fit.minPoints)));
    return `too few sizes to fit (${new Set(f.points.map((p) => p.params)).size}; at least ${need} needed)`;
  }
  return f.law.reason ?? 'no usable form';
}

/** Short: `power law y = … , R² = 0.98` or `no fit: …`. */
export function fitLabel(f: ScalingFit): string {
  const c = chosenFit(f);
  if (!c || !f.law.chosen) return `no fit drawn: ${refusal(f)}`;
  return `${FORM_LABEL[f.law.chosen]} ${equation(f.law.chosen, c.params)}, R² = ${c.r2.toFixed(3)}`;
}

const LAYER_WORDS: Record<string, string> = { last: 'the last layer', embeddings: 'the embeddings', model: 'the model' };

/**
 * One sentence: direction (from the rank correlation of the metric with size), the chosen form and
 * its slope with interval, R², the rank correlation with loss, and n — or why no form was fitted.
 */
export function headlineSentence(f: ScalingFit): string {
  const metric = metricById(f.metric);
  const n = f.points.length;
  const x = f.points.map((p) => p.params);
  const y = f.points.map((p) => p.y);
  const where = LAYER_WORDS[f.layer] ?? `layer position ${f.layer}`;
  const sizes = `n = ${n} model${n === 1 ? '' : 's'}, ${paramCount(Math.min(...x))}–${paramCount(Math.max(...x))} parameters`;
  const head = `${f.family} on ${f.dataset}: ${metric.label}${f.metric === 'meanLoss' ? '' : ` of ${where}`}`;
  if (n < 2) return `${head}: one model (${sizes}), nothing to compare.`;
  const rho = spearman(x, y);
  const direction = !Number.isFinite(rho) ? 'does not change' : rho >= 0.8 ? 'rises with size' : rho <= -0.8 ? 'falls with size' : rho > 0 ? 'tends to rise with size' : rho < 0 ? 'tends to fall with size' : 'shows no trend with size';
  const parts = [`${head} ${direction} (${sizes}; Spearman ρ with size ${Number.isFinite(rho) ? num(rho, 2) : '—'})`];
  const c = chosenFit(f);
  if (c && f.law.chosen) {
    const s = slopeOf(f.law.chosen, c.params, c.intervals as Record<string, Interval> | null);
    parts.push(`${FORM_LABEL[f.law.chosen]} fit (chosen by leave-one-out error), ${s.what} ${slopeText(s)}, R² = ${c.r2.toFixed(2)}`);
  } else {
    parts.push(`no fit drawn — ${refusal(f)}`);
  }
  if (f.lossCorrelation?.ok) parts.push(`rank correlation with loss ρ = ${num(f.lossCorrelation.spearman, 2)}`);
  return parts.join('; ') + '.';
}
