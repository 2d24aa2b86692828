// A tapped copy keeps only the nodes its outputs need.
//
// onnxruntime runs every node of a graph on every `run`, whatever outputs are fetched (measured: a
// generated Llama with d = 2048, 2 blocks and a tied 49,152-word vocabulary spends 1.16 s per batch
// of 16×60 tokens with its lm_head in the graph and 0.58 s without, fetching the same hidden
// state). So a tapped copy made for hidden states alone (`--no-loss`) drops the nodes outside the
// backward cone of what it is asked for — the lm_head and its transposed embedding, typically —
// and the initializers only they read.
//
//   needed = the producers of the required tensors, then of their inputs, transitively (a node with
//            a subgraph also needs every outer tensor the subgraph names)
//   outputs kept = the original outputs computed by needed nodes (free: present.* of a KV-cache
//            decoder stay, so their shapes still size the empty past), plus what was required
//
// The copy is written without decoding the tensors: the original file's top-level fields are
// copied as they are, and its graph field is rewritten from the byte ranges of the fields it keeps.
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { writeFileAtomic, type GraphProto, type NodeProto } from './onnxProto.ts';

interface WithSubgraphs {
  attribute?: Array<{ g?: GraphProto | null; graphs?: GraphProto[] | null }>;
}

/** Every tensor name the node's subgraphs read (inputs of their nodes, recursively). */
function subgraphReads(node: NodeProto): string[] {
  const out: string[] = [];
  const visit = (g: GraphProto) => {
    for (const n of g.node ?? []) {
      out.push(...n.input);
      out.push(...subgraphReads(n));
    }
  };
  for (const a of (node as NodeProto & WithSubgraphs).attribute ?? []) {
    if (a.g) visit(a.g);
    for (const g of a.graphs ?? []) visit(g);
  }
  return out;
}

export interface PrunePlan {
  /** Indices into graph.node of the nodes kept. */
  nodes: Set<number>;
  /** Names of graph.initializer entries kept. */
  initializers: Set<string>;
  /** Names of graph.output entries kept. */
  outputs: Set<string>;
  /** Whether anything is dropped. */
  prunes: boolean;
}

/**
 * The nodes, initializers and outputs of `graph` that `required` tensors need, where `extra` nodes
 * (appended after the graph's own, e.g. the in-graph loss) are kept and read what they read.
 */
export function prunePlan(graph: GraphProto, required: readonly string[], extra: readonly NodeProto[] = []): PrunePlan {
  const producer = new Map<string, number>();
  graph.node.forEach((n, i) => n.output.forEach((o) => o && producer.set(o, i)));
  const needed = new Set<string>();
  const nodes = new Set<number>();
  const work: string[] = [...required];
  for (const n of extra) work.push(...n.input, ...subgraphReads(n));
  while (work.length > 0) {
    const t = work.pop()!;
    if (!t || needed.has(t)) continue;
    needed.add(t);
    const i = producer.get(t);
    if (i === undefined || nodes.has(i)) continue;
    nodes.add(i);
    const n = graph.node[i];
    work.push(...n.input, ...subgraphReads(n));
  }
  const initializers = new Set(graph.initializer.map((t) => t.name ?? '').filter((name) => needed.has(name)));
  const outputs = new Set(
    graph.output
      .map((o) => o.name)
      .filter((name) => needed.has(name) || (producer.has(name) && nodes.has(producer.get(name)!))),
  );
  const prunes = nodes.size < graph.node.length || initializers.size < graph.initializer.length || outputs.size < graph.output.length;
  return { nodes, initializers, outputs, prunes };
}

// ModelProto.graph and the GraphProto fields filtered here (onnx.proto).
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_OUTPUT = 12;

interface Field {
  field: number;
  start: number;
  end: number;
}

/** The top-level fields of a protobuf message in `bytes`, with their byte ranges (tag included). */
function fields(bytes: Uint8Array, from = 0, to = bytes.length): Field[] {
  const reader = protobuf.Reader.create(bytes.subarray(from, to));
  const out: Field[] = [];
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    reader.skipType(tag & 7);
    out.push({ field: tag >>> 3, start: from + start, end: from + reader.pos });
  }
  return out;
}

/** The payload range of a length-delimited field (after its tag and length). */
function payload(bytes: Uint8Array, f: Field): { start: number; end: number } {
  const reader = protobuf.Reader.create(bytes.subarray(f.start, f.end));
  reader.uint32(); // tag
  const len = reader.uint32();
  return { start: f.start + reader.pos, end: f.start + reader.pos + len };
}

function varint(n: number): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(n);
  return w.finish();
}

/**
 * Writes `path` atomically (temp file, fsync, rename) as the ONNX file `source` with its graph cut
 * to `plan` (`graph` is that file's decoded graph: its node, initializer and output entries are
 * matched to the file's fields by position), followed by `append` (serialised ModelProto bytes
 * merged in by the protobuf reader, as appendToModelFile does).
 */
export function writePrunedModelFile(source: string, path: string, graph: GraphProto, plan: PrunePlan, append: Uint8Array): void {
  const bytes = readFileSync(source);
  const pieces: Uint8Array[] = [];
  // Counted over every graph field (a file may carry the graph in several, which readers merge).
  let node = 0;
  let initializer = 0;
  let output = 0;
  for (const top of fields(bytes)) {
    if (top.field !== MODEL_GRAPH) {
      pieces.push(bytes.subarray(top.start, top.end));
      continue;
    }
    const body = payload(bytes, top);
    const kept: Uint8Array[] = [];
    for (const f of fields(bytes, body.start, body.end)) {
      let keep = true;
      if (f.field === GRAPH_NODE) keep = plan.nodes.has(node++);
      else if (f.field === GRAPH_INITIALIZER) keep = plan.initializers.has(graph.initializer[initializer++]?.name ?? '');
      else if (f.field === GRAPH_OUTPUT) keep = plan.outputs.has(graph.output[output++]?.name ?? '');
      if (keep) kept.push(bytes.subarray(f.start, f.end));
    }
    const length = kept.reduce((a, k) => a + k.length, 0);
    pieces.push(varint((MODEL_GRAPH << 3) | 2), varint(length), ...kept);
  }
  if (node !== graph.node.length || initializer !== graph.initializer.length || output !== graph.output.length) {
    throw new Error(`${source}: the graph's fields do not match its decoded form (${node}/${graph.node.length} nodes, ${output}/${graph.output.length} outputs)`);
  }
  pieces.push(append);
  writeFileAtomic(path, pieces);
}
