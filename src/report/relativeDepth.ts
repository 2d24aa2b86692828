// Layers of models of different depth, lined up by relative depth (as "Layer by Layer", Skean et
// al. 2025, plot them): a model of L blocks has depth k/L at hidden_states index k (DESIGN §1.10:
// 0 = the embedding output, k = the output of block k−1), and `final`/`last` sit at depth 1.
//
// Families are compared at five positions: `embeddings`, depth ¼, ½, ¾ (the block whose depth k/L is
// nearest, k ≥ 1), and `last` (the model's `last` tap, else `final`, else its deepest block), so a
// 2-block and a 6-block model meet at the same fractions instead of at block.3, which only one has.
import type { EvaluationSummary, LayerSummary } from '../eval/summary.ts';

export const DEPTH_POSITIONS = [
  { id: 'embeddings', depth: 0 },
  { id: 'depth 1/4', depth: 0.25 },
  { id: 'depth 1/2', depth: 0.5 },
  { id: 'depth 3/4', depth: 0.75 },
  { id: 'last', depth: 1 },
] as const;

export type DepthPosition = (typeof DEPTH_POSITIONS)[number]['id'];

/** hidden_states index of a layer name: embeddings 0, block.i → i + 1, "k" → k; null for others. */
export function hiddenIndex(layer: string): number | null {
  if (layer === 'embeddings') return 0;
  const block = /^block\.(\d+)$/.exec(layer);
  if (block) return Number(block[1]) + 1;
  if (/^\d+$/.test(layer)) return Number(layer);
  return null;
}

/** The model's block count: recorded in the summary, else the deepest block evaluated (0: unknown). */
export function blockCount(s: EvaluationSummary): number {
  if (typeof s.model.blocks === 'number' && s.model.blocks > 0) return s.model.blocks;
  return Math.max(0, ...s.layers.map((l) => (l.layer === 'embeddings' ? 0 : (hiddenIndex(l.layer) ?? 0))));
}

/** Relative depth in [0, 1] of a layer, or null when it cannot be placed. */
export function relativeDepth(s: EvaluationSummary, layer: string): number | null {
  if (layer === 'last' || layer === 'final') return 1;
  const k = hiddenIndex(layer);
  if (k === null) return null;
  if (k === 0) return 0;
  const L = blockCount(s);
  return L > 0 ? Math.min(1, k / L) : null;
}

/** The model's layer at each comparison position it has, with the layer's own relative depth. */
export function layersByPosition(s: EvaluationSummary): Array<{ position: DepthPosition; layer: LayerSummary; depth: number }> {
  const out: Array<{ position: DepthPosition; layer: LayerSummary; depth: number }> = [];
  const byIndex = new Map<number, LayerSummary>();
  for (const l of s.layers) {
    const k = hiddenIndex(l.layer);
    if (k !== null && !byIndex.has(k)) byIndex.set(k, l);
  }
  const L = blockCount(s);
  const last = s.layers.find((l) => l.layer === 'last') ?? s.layers.find((l) => l.layer === 'final') ?? (L > 0 ? byIndex.get(L) : undefined);
  for (const p of DEPTH_POSITIONS) {
    if (p.id === 'embeddings') {
      const e = byIndex.get(0);
      if (e) out.push({ position: p.id, layer: e, depth: 0 });
    } else if (p.id === 'last') {
      if (last) out.push({ position: p.id, layer: last, depth: 1 });
    } else if (L >= 2) {
      const k = Math.min(L, Math.max(1, Math.round(p.depth * L)));
      const l = byIndex.get(k);
      if (l) out.push({ position: p.id, layer: l, depth: k / L });
    }
  }
  return out;
}
