// ONNX external data (models over 2 GB, as `optimum-cli export onnx` writes them: `model.onnx` +
// `model.onnx_data`): initialisers whose bytes live in other files, named by TensorProto
// `external_data` entries `location` (relative to the model's folder), `offset` and `length`
// (bytes; absent: from offset 0, and the tensor's own size).
//
// What the rest of entroscope needs from them, without ever inlining them into a protobuf (a
// protobuf cannot exceed 2 GB):
//   - the files a graph references (fetch them with it, link them beside a tapped copy);
//   - a check that every referenced range is there, before onnxruntime reads it: a missing or
//     truncated data file is an InputError naming the file and the tensor (it would recur on retry);
//   - the model's identity: sha256 of the graph file when it has no external data, else
//       sha256(JSON ["onnx+external-data/v1", sha256(graph), [[location, sha256(file)], …]])
//     so a changed weight file is a changed model;
//   - its bytes (graph + data files), which size the sessions a worker runs.
// The list of files a graph references is cached by the graph file's sha256 under
// `$ENTROSCOPE_CACHE/graphs/<sha256>.external.v1.json`, so a large graph is decoded once, ever.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import { sha256, sha256File } from '../io/hash.ts';
import { DataType, readModel, tensorSize, writeFileAtomic, writeModel, type AttributeProto, type GraphProto, type ModelProto, type TensorProto } from './onnxProto.ts';

/** One initialiser's external bytes. */
export interface ExternalRange {
  tensor: string;
  location: string;
  offset: number;
  /** Bytes; undefined when the entry gives none (the tensor's size is read). */
  length?: number;
}

type GraphAttribute = AttributeProto & { g?: GraphProto; graphs?: GraphProto[] };

/** Every graph of the model: the main one and the bodies of If / Loop / Scan nodes, recursively. */
function graphsOf(graph: GraphProto): GraphProto[] {
  const out = [graph];
  for (const n of graph.node) {
    for (const a of (n.attribute ?? []) as GraphAttribute[]) {
      if (a.g) out.push(...graphsOf(a.g));
      for (const g of a.graphs ?? []) out.push(...graphsOf(g));
    }
  }
  return out;
}

export function isExternal(t: TensorProto): boolean {
  return t.data_location === 1;
}

/** The external range of an initialiser with `data_location = EXTERNAL`. */
export function externalRange(t: TensorProto): ExternalRange {
  const entry = (k: string) => t.external_data?.find((e) => e.key === k)?.value;
  const location = entry('location');
  if (!location) throw new InputError(`initialiser ${t.name ?? ''} has external data without a location`);
  const length = entry('length');
  return { tensor: t.name ?? '', location, offset: Number(entry('offset') ?? 0), ...(length !== undefined ? { length: Number(length) } : {}) };
}

/** Every external range of the model (all graphs). */
export function externalRanges(model: ModelProto): ExternalRange[] {
  return graphsOf(model.graph).flatMap((g) => (g.initializer ?? []).filter(isExternal).map(externalRange));
}

/** The files the model keeps weights in, relative to its folder, sorted. */
export function externalFilesOf(model: ModelProto): string[] {
  return [...new Set(externalRanges(model).map((r) => r.location))].sort();
}

const ELEMENT_BYTES: Record<number, number> = {
  [DataType.FLOAT]: 4,
  [DataType.UINT8]: 1,
  [DataType.INT8]: 1,
  [DataType.INT32]: 4,
  [DataType.INT64]: 8,
  [DataType.BOOL]: 1,
  [DataType.FLOAT16]: 2,
  [DataType.DOUBLE]: 8,
  [DataType.BFLOAT16]: 2,
};

/** Bytes a tensor's data takes (undefined for types without a fixed width). */
export function tensorBytes(t: TensorProto): number | undefined {
  const w = ELEMENT_BYTES[t.data_type ?? 0];
  return w === undefined ? undefined : w * tensorSize(t);
}

/**
 * Fails (InputError) unless every external range of `model` lies inside its file beside
 * `onnxPath`, naming the file, the tensor and the sizes.
 */
export function checkExternalData(model: ModelProto, onnxPath: string): void {
  const dir = dirname(resolve(onnxPath));
  const sizes = new Map<string, number>();
  for (const g of graphsOf(model.graph)) {
    for (const t of (g.initializer ?? []).filter(isExternal)) {
      const r = externalRange(t);
      if (r.location.split(/[\\/]/).includes('..')) throw new InputError(`model ${onnxPath} keeps tensor ${r.tensor} outside its folder: ${r.location}`);
      const file = join(dir, r.location);
      let size = sizes.get(file);
      if (size === undefined) {
        try {
          size = statSync(file).size;
        } catch {
          throw new InputError(`model ${onnxPath}: external data file ${file} (tensor ${r.tensor}) is missing`);
        }
        sizes.set(file, size);
      }
      const need = r.length ?? tensorBytes(t) ?? 0;
      if (r.offset + need > size) {
        throw new InputError(
          `model ${onnxPath}: external data file ${file} is truncated: tensor ${r.tensor} needs bytes ${r.offset}…${r.offset + need}, the file has ${size}`,
        );
      }
    }
  }
}

/** The tensor's bytes, read from its external file (or its own raw_data). */
export function tensorData(t: TensorProto, onnxPath: string): Uint8Array {
  if (!isExternal(t)) return t.raw_data ?? new Uint8Array(0);
  const r = externalRange(t);
  const n = r.length ?? tensorBytes(t);
  if (n === undefined) throw new InputError(`tensor ${r.tensor} of ${onnxPath}: cannot size its external data`);
  const file = join(dirname(resolve(onnxPath)), r.location);
  const out = new Uint8Array(n);
  const fd = openSync(file, 'r');
  try {
    let off = 0;
    while (off < n) {
      const got = readSync(fd, out, off, n - off, r.offset + off);
      if (got === 0) throw new InputError(`model ${onnxPath}: external data file ${file} is truncated at tensor ${r.tensor}`);
      off += got;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** `t` as a tensor with its bytes inline (raw_data), for code that reads values. */
export function withInlineData(t: TensorProto, onnxPath: string): TensorProto {
  if (!isExternal(t)) return t;
  return { ...t, raw_data: tensorData(t, onnxPath), data_location: 0, external_data: [] };
}

export interface ModelIdentity {
  /** See the file comment. */
  sha256: string;
  /** sha256 of the graph file alone. */
  graphSha256: string;
  /** External data files, relative to the model's folder. */
  externalFiles: string[];
  /** Bytes of the graph file and its data files. */
  bytes: number;
}

function cacheRootOf(cacheDir?: string): string {
  return resolve(cacheDir ?? process.env.ENTROSCOPE_CACHE ?? join(process.env.HOME ?? '.', '.cache', 'entroscope'));
}

/** Files smaller than this are hashed every time (a tokenizer.json: milliseconds). */
const REMEMBER_FROM_BYTES = 32 * 2 ** 20;

/**
 * sha256File, remembered under `cacheDir/hashes/` by what `stat` says of the file: device, inode,
 * size, and mtime and ctime in nanoseconds. Hashing a 540 MB graph takes ~1.2 s and a 4.7 GB model
 * ~12 s, in every process (and worker thread) that plans or runs it; a file rewritten or touched
 * changes its mtime or ctime and is hashed again — the stat fields git's index and ccache trust.
 */
export async function sha256FileRemembered(path: string, cacheDir: string): Promise<string> {
  const st = statSync(path, { bigint: true });
  if (st.size < BigInt(REMEMBER_FROM_BYTES)) return sha256File(path);
  const key = sha256(JSON.stringify([resolve(path), st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].map(String)));
  const dir = join(cacheDir, 'hashes');
  const file = join(dir, `${key}.sha256`);
  try {
    const known = readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(known)) return known;
  } catch {
    // not remembered yet
  }
  const hex = await sha256File(path);
  // Only if the file did not change while it was read.
  const after = statSync(path, { bigint: true });
  if (after.mtimeNs === st.mtimeNs && after.ctimeNs === st.ctimeNs && after.size === st.size) {
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(file, new TextEncoder().encode(hex + '\n'));
  }
  return hex;
}

// Per process: path + size + mtime of the graph and its data files → identity.
const identities = new Map<string, Promise<ModelIdentity>>();

/**
 * The model's identity (see the file comment), checking its external data first. `model`: the
 * decoded graph, when the caller has it (else it is decoded only when the cache lacks its list).
 */
export async function modelIdentity(onnxPath: string, opts: { cacheDir?: string; model?: ModelProto } = {}): Promise<ModelIdentity> {
  const st = statSync(onnxPath);
  const key = JSON.stringify([resolve(onnxPath), st.size, st.mtimeMs, st.ino]);
  let p = identities.get(key);
  if (!p) {
    p = computeIdentity(onnxPath, st.size, opts);
    p.catch(() => identities.delete(key));
    identities.set(key, p);
  }
  const id = await p;
  // Data files may change under an unchanged graph: re-key on theirs (cheap stats).
  if (id.externalFiles.length > 0) {
    const dir = dirname(resolve(onnxPath));
    const stamp = id.externalFiles.map((f) => {
      try {
        const s = statSync(join(dir, f));
        return [s.size, s.mtimeMs, s.ino];
      } catch {
        throw new InputError(`model ${onnxPath}: external data file ${join(dir, f)} is missing`);
      }
    });
    const full = JSON.stringify([key, stamp]);
    let q = identities.get(full);
    if (!q) {
      q = computeIdentity(onnxPath, st.size, opts);
      q.catch(() => identities.delete(full));
      identities.set(full, q);
    }
    return q;
  }
  return id;
}

async function computeIdentity(onnxPath: string, graphBytes: number, opts: { cacheDir?: string; model?: ModelProto }): Promise<ModelIdentity> {
  const graphSha256 = await sha256FileRemembered(onnxPath, cacheRootOf(opts.cacheDir));
  const listFile = join(cacheRootOf(opts.cacheDir), 'graphs', `${graphSha256}.external.v1.json`);
  let externalFiles: string[];
  let model = opts.model;
  if (existsSync(listFile)) externalFiles = JSON.parse(readFileSync(listFile, 'utf8')) as string[];
  else {
    model ??= readModel(onnxPath);
    externalFiles = externalFilesOf(model);
    mkdirSync(dirname(listFile), { recursive: true });
    writeFileAtomic(listFile, new TextEncoder().encode(JSON.stringify(externalFiles)));
  }
  if (externalFiles.length === 0) return { sha256: graphSha256, graphSha256, externalFiles, bytes: graphBytes };
  checkExternalData(model ?? readModel(onnxPath), onnxPath);
  const dir = dirname(resolve(onnxPath));
  const parts: Array<[string, string]> = [];
  let bytes = graphBytes;
  for (const f of externalFiles) {
    parts.push([f, await sha256FileRemembered(join(dir, f), cacheRootOf(opts.cacheDir))]);
    bytes += statSync(join(dir, f)).size;
  }
  return { sha256: sha256(JSON.stringify(['onnx+external-data/v1', graphSha256, parts])), graphSha256, externalFiles, bytes };
}

/**
 * Writes `model` as `path` + one external data file `dataName` beside it: every initialiser of
 * every graph whose data is ≥ 1 KiB (or already external) moves to the data file, 64-byte aligned,
 * with `location`/`offset`/`length` entries; `bytesOf` gives a tensor's bytes (inline or from the
 * source's external data). The data file is written first, each tensor in turn, then the graph.
 */
export function writeModelWithExternalData(path: string, model: ModelProto, dataName: string, bytesOf: (t: TensorProto) => Uint8Array): void {
  const dataPath = join(dirname(path), dataName);
  const tmp = `${dataPath}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const fd = openSync(tmp, 'w');
  let offset = 0;
  const moved = (t: TensorProto): TensorProto => {
    if (!isExternal(t) && (t.raw_data?.length ?? 0) < 1024) return t;
    const bytes = bytesOf(t);
    const pad = (64 - (offset % 64)) % 64;
    if (pad) offset += writeSync(fd, new Uint8Array(pad), 0, pad, offset);
    const start = offset;
    for (let o = 0; o < bytes.length; ) o += writeSync(fd, bytes, o, bytes.length - o, start + o);
    offset = start + bytes.length;
    return {
      ...t,
      raw_data: new Uint8Array(0),
      data_location: 1,
      external_data: [
        { key: 'location', value: dataName },
        { key: 'offset', value: String(start) },
        { key: 'length', value: String(bytes.length) },
      ],
    };
  };
  const rewrite = (g: GraphProto): GraphProto => ({
    ...g,
    initializer: (g.initializer ?? []).map(moved),
    node: g.node.map((n) => ({
      ...n,
      attribute: ((n.attribute ?? []) as GraphAttribute[]).map((a) => ({
        ...a,
        ...(a.g ? { g: rewrite(a.g) } : {}),
        ...(a.graphs && a.graphs.length ? { graphs: a.graphs.map(rewrite) } : {}),
      })),
    })),
  });
  let out: ModelProto;
  try {
    out = { ...model, graph: rewrite(model.graph) };
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, dataPath);
  writeModel(path, out);
}
