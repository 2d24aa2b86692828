// What planning needs from a model's graph besides its taps — the token embedding (for the
// tokenizer check) and the learned position table (for the token limit) — cached beside the taps
// under `$ENTROSCOPE_CACHE/tapped/<model sha256>/graph-facts.v1.json`, so a plan does not decode the
// whole ONNX file (seconds for a large model) when nothing about it changed.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { positionTable, type PositionTable } from './maxPositions.ts';
import { cacheRoot, type TapListing } from './onnxTaps.ts';
import { readModel, writeFileAtomic, type ModelProto } from './onnxProto.ts';
import { tokenEmbedding, type TokenEmbedding } from './vocabCheck.ts';

export interface GraphFacts {
  embedding?: TokenEmbedding;
  positionTable?: PositionTable;
  /** The decoded model, when this call had to decode it. */
  model?: ModelProto;
}

export function graphFacts(onnxPath: string, listing: TapListing, cacheDir = cacheRoot()): GraphFacts {
  const file = join(cacheDir, 'tapped', listing.sha256, 'graph-facts.v1.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as GraphFacts;
  const model = listing.model ?? readModel(onnxPath);
  const facts: GraphFacts = { embedding: tokenEmbedding(model), positionTable: positionTable(model) };
  mkdirSync(join(cacheDir, 'tapped', listing.sha256), { recursive: true });
  writeFileAtomic(file, new TextEncoder().encode(JSON.stringify(facts, null, 2)));
  return { ...facts, model };
}
