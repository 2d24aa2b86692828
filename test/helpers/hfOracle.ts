// Per-sample rows against test/oracle/hf_oracle.py: transformers on the Hugging Face checkpoint
// with output_hidden_states=True and its own AutoTokenizer, independent of entroscope. Row names
// follow entroscope's for a decoder: hidden_states[0] = embeddings, [i] = block.(i−1), the last = final.
import assert from 'node:assert/strict';
import type { SampleRow } from '../../src/arrow/sampleTable.ts';
import { hfPythonBin, runOracle } from './services.ts';

export const HF_ORACLE = new URL('../oracle/hf_oracle.py', import.meta.url).pathname;
const METRICS = ['entropy', 'erank', 'normalizedEntropy', 'renyi2', 'nuclearNorm'] as const;

export interface HfOracleOutput {
  numLayers: number;
  perSample: Array<{ layers: Record<string, { skipped: boolean } & Record<string, number>> }>;
}

/** hf_oracle.py on `texts` (truncated at maxTokens as AutoTokenizer does). */
export function hfOracle(hf: string, texts: string[], maxTokens: number): Promise<HfOracleOutput> {
  return runOracle<HfOracleOutput>(HF_ORACLE, { hf, texts, maxTokens }, hfPythonBin);
}

/**
 * Every row at every hidden_states index against the oracle, each metric to `tolerance` relative;
 * skipped where the oracle skipped. Returns how many rows were compared.
 */
export function assertRowsMatchHf(rows: SampleRow[], oracle: HfOracleOutput, tolerance = 1e-5): number {
  const L = oracle.numLayers;
  const name = (i: number) => (i === 0 ? 'embeddings' : i < L ? `block.${i - 1}` : 'final');
  let checked = 0;
  for (let i = 0; i <= L; i++) {
    for (const row of rows.filter((x) => x.layer === name(i))) {
      const want = oracle.perSample[row.row].layers[String(i)];
      assert.equal(row.skipped, want.skipped, `hidden_states[${i}] row ${row.row} skipped`);
      if (want.skipped) continue;
      for (const m of METRICS) {
        const err = Math.abs((row[m] as number) - want[m]) / Math.max(Math.abs(want[m]), 1e-12);
        assert.ok(err <= tolerance, `hidden_states[${i}] row ${row.row} ${m}: ${row[m]} vs ${want[m]} (${err})`);
      }
      checked++;
    }
  }
  return checked;
}
