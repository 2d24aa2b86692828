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
// The copy is written without decoding the tensors or holding the file in memory: the original
// file's fields are located by reading their tags and lengths only, its top-level fields are copied
// through a small buffer as they are, and its graph field is rewritten from the byte ranges of the
// fields it keeps.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import protobuf from 'protobufjs';
import { writeAll, writeFileAtomic, type GraphProto, type NodeProto } from './onnxProto.ts';

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

/** One field of a message in the file: its number, its byte range (tag included) and, when
 * length-delimited, where its payload starts. */
interface Field {
  field: number;
  start: number;
  end: number;
  payload: number;
}

/** Reads protobuf tags and lengths at given offsets of an open file. */
class FieldScanner {
  private readonly head = new Uint8Array(20);
  constructor(
    private readonly fd: number,
    private readonly source: string,
  ) {}

  /** The varint at `pos` and the offset after it. */
  private varint(pos: number): { value: number; next: number } {
    const got = readSync(this.fd, this.head, 0, this.head.length, pos);
    let value = 0;
    let scale = 1;
    for (let i = 0; i < Math.min(got, 10); i++) {
      const b = this.head[i];
      value += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) return { value, next: pos + i + 1 };
    }
    throw new Error(`${this.source}: malformed protobuf varint at byte ${pos}`);
  }

  /** The fields of the message occupying [from, to). */
  fields(from: number, to: number): Field[] {
    const out: Field[] = [];
    let pos = from;
    while (pos < to) {
      const tag = this.varint(pos);
      const wire = tag.value % 8;
      let end: number;
      let payload = tag.next;
      if (wire === 0) end = this.varint(tag.next).next;
      else if (wire === 1) end = tag.next + 8;
      else if (wire === 5) end = tag.next + 4;
      else if (wire === 2) {
        const len = this.varint(tag.next);
        payload = len.next;
        end = len.next + len.value;
      } else throw new Error(`${this.source}: protobuf wire type ${wire} at byte ${pos} is not supported`);
      if (end > to) throw new Error(`${this.source}: protobuf field at byte ${pos} runs past its message (${end} > ${to})`);
      out.push({ field: Math.floor(tag.value / 8), start: pos, end, payload });
      pos = end;
    }
    return out;
  }
}

function varint(n: number): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(n);
  return w.finish();
}

/** A piece of the output: bytes of its own, or a byte range of the source file. */
type Piece = Uint8Array | { start: number; end: number };

const COPY_CHUNK = 8 * 2 ** 20;

/**
 * Writes `path` atomically (temp file, fsync, rename) as the ONNX file `source` with its graph cut
 * to `plan` (`graph` is that file's decoded graph: its node, initializer and output entries are
 * matched to the file's fields by position), followed by `append` (serialised ModelProto bytes
 * merged in by the protobuf reader, as appendToModelFile does). Memory: one 8 MiB copy buffer.
 */
export function writePrunedModelFile(source: string, path: string, graph: GraphProto, plan: PrunePlan, append: Uint8Array): void {
  const fd = openSync(source, 'r');
  try {
    const scanner = new FieldScanner(fd, source);
    const pieces: Piece[] = [];
    // Counted over every graph field (a file may carry the graph in several, which readers merge).
    let node = 0;
    let initializer = 0;
    let output = 0;
    for (const top of scanner.fields(0, fstatSync(fd).size)) {
      if (top.field !== MODEL_GRAPH) {
        pieces.push({ start: top.start, end: top.end });
        continue;
      }
      const kept: Array<{ start: number; end: number }> = [];
      for (const f of scanner.fields(top.payload, top.end)) {
        let keep = true;
        if (f.field === GRAPH_NODE) keep = plan.nodes.has(node++);
        else if (f.field === GRAPH_INITIALIZER) keep = plan.initializers.has(graph.initializer[initializer++]?.name ?? '');
        else if (f.field === GRAPH_OUTPUT) keep = plan.outputs.has(graph.output[output++]?.name ?? '');
        if (keep) kept.push({ start: f.start, end: f.end });
      }
      const length = kept.reduce((a, k) => a + (k.end - k.start), 0);
      pieces.push(varint((MODEL_GRAPH << 3) | 2), varint(length), ...kept);
    }
    if (node !== graph.node.length || initializer !== graph.initializer.length || output !== graph.output.length) {
      throw new Error(`${source}: the graph's fields do not match its decoded form (${node}/${graph.node.length} nodes, ${output}/${graph.output.length} outputs)`);
    }
    pieces.push(append);
    const buffer = new Uint8Array(COPY_CHUNK);
    writeFileAtomic(path, (out) => {
      for (const p of pieces) {
        if (p instanceof Uint8Array) {
          writeAll(out, p);
          continue;
        }
        for (let pos = p.start; pos < p.end; ) {
          const got = readSync(fd, buffer, 0, Math.min(buffer.length, p.end - pos), pos);
          if (got <= 0) throw new Error(`${source}: ended at byte ${pos}, before ${p.end}`);
          writeAll(out, buffer.subarray(0, got));
          pos += got;
        }
      }
    });
  } finally {
    closeSync(fd);
  }
}
