// The dataset's image-text alignment (DESIGN §1.9) from the stored per-sample rows: each sample's
// five part rows (`layer` = eRank1 … eRank5, written by extractMultimodalShard) are put back
// together and aggregated by multimodalDatasetMetrics.
import { sampleMetricsOfRow, type SampleRow } from '../arrow/sampleTable.ts';
import { combineParts, ERANK_PARTS, multimodalDatasetMetrics, type ErankPart, type MultimodalDatasetMetrics } from '../metrics/multimodalAlignment.ts';
import type { SampleMetrics } from '../metrics/sampleMetrics.ts';

const PART_SET = new Set<string>(ERANK_PARTS);

export function alignmentFromRows(rows: readonly SampleRow[], opts: { seed: number; source: string }): MultimodalDatasetMetrics {
  const byRow = new Map<number, Partial<Record<ErankPart, SampleMetrics>>>();
  for (const r of rows) {
    if (!PART_SET.has(r.layer)) continue;
    let parts = byRow.get(r.row);
    if (!parts) byRow.set(r.row, (parts = {}));
    if (parts[r.layer as ErankPart]) throw new Error(`${opts.source}: row ${r.row} has two ${r.layer} entries`);
    parts[r.layer as ErankPart] = sampleMetricsOfRow(r);
  }
  const samples = [...byRow.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([row, parts]) => {
      const missing = ERANK_PARTS.filter((k) => !parts[k]);
      if (missing.length > 0) throw new Error(`${opts.source}: row ${row} lacks ${missing.join(', ')}`);
      return combineParts(parts as Record<ErankPart, SampleMetrics>);
    });
  return multimodalDatasetMetrics(samples, { seed: opts.seed });
}
