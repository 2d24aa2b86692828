// Per-sample rows of every evaluation as one table (`entroscope report --per-sample csv|parquet`):
// each shard's samples.arrow rows, with the model, its family and size, the dataset and its sha256,
// and the layer's relative depth, so one file holds what a per-sample analysis needs. A sample is
// identified by (datasetSha256, row): the dataset row index, which the dataset's hash pins down.
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { SampleRow } from '../arrow/sampleTable.ts';
import { datasetLabel, type CollectedRun } from './collect.ts';
import { relativeDepth } from './relativeDepth.ts';
import { familyOf } from './scalingFits.ts';
import type { Cell, Table } from './tables.ts';

export const PER_SAMPLE_FORMATS = ['csv', 'parquet'] as const;
export type PerSampleFormat = (typeof PER_SAMPLE_FORMATS)[number];

const COLUMNS = [
  'model', 'family', 'params', 'dataset', 'datasetSha256', 'layer', 'relativeDepth', 'row', 'tokens', 'truncated', 'dim',
  'skipped', 'skipReason', 'droppedRows', 'entropy', 'normalizedEntropy', 'erank', 'renyi2', 'nuclearNorm', 'loss',
] as const;

/** Parquet type of each column (strings, int32 counts, doubles, booleans). */
const TYPES: Record<(typeof COLUMNS)[number], 'STRING' | 'INT32' | 'DOUBLE' | 'BOOLEAN'> = {
  model: 'STRING', family: 'STRING', params: 'DOUBLE', dataset: 'STRING', datasetSha256: 'STRING', layer: 'STRING', relativeDepth: 'DOUBLE',
  row: 'INT32', tokens: 'INT32', truncated: 'BOOLEAN', dim: 'INT32', skipped: 'BOOLEAN', skipReason: 'STRING', droppedRows: 'INT32',
  entropy: 'DOUBLE', normalizedEntropy: 'DOUBLE', erank: 'DOUBLE', renyi2: 'DOUBLE', nuclearNorm: 'DOUBLE', loss: 'DOUBLE',
};

export function perSampleTable(runs: CollectedRun[], samples: Map<CollectedRun, SampleRow[]>): Table {
  const rows: Cell[][] = [];
  for (const run of runs) {
    const s = run.summary;
    for (const r of samples.get(run) ?? []) {
      rows.push([
        s.model.name, familyOf(run), s.model.params ?? null, datasetLabel(s), s.dataset.sha256, r.layer, relativeDepth(s, r.layer), r.row, r.tokens, r.truncated, r.dim,
        r.skipped, r.skipReason, r.droppedRows, r.entropy, r.normalizedEntropy, r.erank, r.renyi2, r.nuclearNorm, r.loss ?? null,
      ]);
    }
  }
  return { columns: [...COLUMNS], rows };
}

/** The table as Parquet (hyparquet-writer), nulls kept as nulls. */
export function toParquet(table: Table): Uint8Array {
  const columnData = table.columns.map((name, i) => ({
    name,
    data: table.rows.map((r) => r[i]),
    type: TYPES[name as (typeof COLUMNS)[number]],
  }));
  return new Uint8Array(parquetWriteBuffer({ columnData }));
}
