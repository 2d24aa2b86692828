// Per-sample metric rows of one shard as an Arrow IPC file: one table row per dataset row.
// Skipped samples keep their row, with null metrics and the reason, so nothing silently vanishes.
import * as A from 'apache-arrow';
import type { SampleMetrics } from '../metrics/sampleMetrics.ts';

export interface SampleRow {
  /** Dataset row index (0-based). */
  row: number;
  layer: string;
  tokens: number;
  truncated: boolean;
  dim: number;
  skipped: boolean;
  skipReason: string | null;
  droppedRows: number;
  entropy: number | null;
  normalizedEntropy: number | null;
  erank: number | null;
  renyi2: number | null;
  nuclearNorm: number | null;
  /** Mean next-token cross-entropy of the sample (causal models with logits), else null. */
  loss?: number | null;
  /**
   * Precomputed hidden states: the sample's id, sha256 of its text (or of its values when no text
   * is known); the column is written only when some row has one.
   */
  sampleId?: string | null;
}

const METRIC_COLUMNS = ['entropy', 'normalizedEntropy', 'erank', 'renyi2', 'nuclearNorm'] as const;

export function samplesToArrow(rows: SampleRow[]): Uint8Array {
  const table = new A.Table({
    row: A.vectorFromArray(rows.map((r) => r.row), new A.Int32()),
    layer: A.vectorFromArray(rows.map((r) => r.layer), new A.Utf8()),
    tokens: A.vectorFromArray(rows.map((r) => r.tokens), new A.Int32()),
    truncated: A.vectorFromArray(rows.map((r) => r.truncated), new A.Bool()),
    dim: A.vectorFromArray(rows.map((r) => r.dim), new A.Int32()),
    skipped: A.vectorFromArray(rows.map((r) => r.skipped), new A.Bool()),
    skipReason: A.vectorFromArray(rows.map((r) => r.skipReason), new A.Utf8()),
    droppedRows: A.vectorFromArray(rows.map((r) => r.droppedRows), new A.Int32()),
    ...Object.fromEntries(
      METRIC_COLUMNS.map((c) => [c, A.vectorFromArray(rows.map((r) => r[c]), new A.Float64())]),
    ),
    loss: A.vectorFromArray(rows.map((r) => r.loss ?? null), new A.Float64()),
    ...(rows.some((r) => r.sampleId) ? { sampleId: A.vectorFromArray(rows.map((r) => r.sampleId ?? null), new A.Utf8()) } : {}),
  });
  return A.tableToIPC(table, 'file');
}

export function samplesFromArrow(bytes: Uint8Array, source: string): SampleRow[] {
  let table: A.Table;
  try {
    table = A.tableFromIPC(bytes);
  } catch (err) {
    throw new Error(`${source}: not a readable Arrow IPC file (${(err as Error).message})`);
  }
  const out: SampleRow[] = [];
  for (const r of table) {
    const o = r.toJSON() as Record<string, unknown>;
    out.push({
      row: o.row as number,
      layer: o.layer as string,
      tokens: o.tokens as number,
      truncated: o.truncated as boolean,
      dim: o.dim as number,
      skipped: o.skipped as boolean,
      skipReason: (o.skipReason as string | null) ?? null,
      droppedRows: o.droppedRows as number,
      entropy: (o.entropy as number | null) ?? null,
      normalizedEntropy: (o.normalizedEntropy as number | null) ?? null,
      erank: (o.erank as number | null) ?? null,
      renyi2: (o.renyi2 as number | null) ?? null,
      nuclearNorm: (o.nuclearNorm as number | null) ?? null,
      loss: (o.loss as number | null | undefined) ?? null,
      ...(typeof o.sampleId === 'string' ? { sampleId: o.sampleId } : {}),
    });
  }
  return out;
}

/** A sample's stored row from its metrics at one layer (absent metrics become nulls). */
export function sampleRowOf(row: number, layer: string, m: SampleMetrics, truncated: boolean): SampleRow {
  return {
    row,
    layer,
    tokens: m.tokens,
    truncated,
    dim: m.dim,
    skipped: m.skipped,
    skipReason: m.skipReason ?? null,
    droppedRows: m.droppedRows,
    entropy: m.entropy ?? null,
    normalizedEntropy: m.normalizedEntropy ?? null,
    erank: m.erank ?? null,
    renyi2: m.renyi2 ?? null,
    nuclearNorm: m.nuclearNorm ?? null,
  };
}

/** A stored row as the metric core's SampleMetrics (nulls become absent fields); sampleRowOf's inverse. */
export function sampleMetricsOfRow(r: SampleRow): SampleMetrics {
  return {
    tokens: r.tokens,
    dim: r.dim,
    skipped: r.skipped,
    skipReason: r.skipReason ?? undefined,
    droppedRows: r.droppedRows,
    entropy: r.entropy ?? undefined,
    normalizedEntropy: r.normalizedEntropy ?? undefined,
    erank: r.erank ?? undefined,
    renyi2: r.renyi2 ?? undefined,
    nuclearNorm: r.nuclearNorm ?? undefined,
  };
}
