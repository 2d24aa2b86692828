/**
 * Reads one hidden-state matrix X: N×d (tokens × hidden) from an Arrow IPC file (file or stream
 * format), in either of two layouts:
 *
 *   wide:   d columns, each float32 or float64 — column j is hidden dimension j, row i is token i
 *   list:   one FixedSizeList<float32|float64>[d] column — row i is token i's hidden state
 *
 * Record batches are concatenated in order. Nulls are rejected (a missing hidden value has no
 * meaning), as are integer, half-float and non-numeric columns. Errors name the file and the problem.
 */
import * as A from 'apache-arrow';

export interface ArrowMatrix {
  /** X: rows×cols row-major, float64. */
  data: Float64Array;
  rows: number;
  cols: number;
  layout: 'wide' | 'list';
}

const LAYOUTS =
  'expected every column float32/float64 (one per hidden dimension) or a single FixedSizeList<float32|float64> column (one row per token)';

function isFloat32or64(type: A.DataType): boolean {
  return A.DataType.isFloat(type) && (type as A.Float).precision !== A.Precision.HALF;
}

function describe(type: A.DataType): string {
  if (A.DataType.isFloat(type) && (type as A.Float).precision === A.Precision.HALF) return 'float16';
  return String(type);
}

const FILE_MAGIC = [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31]; // "ARROW1"

/** IPC file format starts with "ARROW1"; stream format with the continuation marker 0xFFFFFFFF. */
function hasArrowMagic(bytes: Uint8Array): boolean {
  if (bytes.length >= 6 && FILE_MAGIC.every((b, i) => bytes[i] === b)) return true;
  return bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xff && bytes[2] === 0xff && bytes[3] === 0xff;
}

/** The IPC file format also ends with "ARROW1" (after the footer); a cut file lacks it. */
function isCutFileFormat(bytes: Uint8Array): boolean {
  if (!FILE_MAGIC.every((b, i) => bytes[i] === b)) return false;
  const end = bytes.length - FILE_MAGIC.length;
  return end < 8 || !FILE_MAGIC.every((b, i) => bytes[end + i] === b);
}

/** `file` names the source in errors. */
export function readArrowMatrix(bytes: Uint8Array, file: string): ArrowMatrix {
  if (!hasArrowMagic(bytes)) {
    throw new Error(`${file}: not an Arrow IPC file (no "ARROW1" file magic or stream continuation marker)`);
  }
  if (isCutFileFormat(bytes)) {
    throw new Error(`${file}: truncated Arrow IPC file (${bytes.length} bytes, no closing "ARROW1" magic)`);
  }
  let table: A.Table;
  try {
    table = A.tableFromIPC(bytes);
  } catch (err) {
    throw new Error(`${file}: not a readable Arrow IPC file (${(err as Error).message})`);
  }
  const fields = table.schema.fields;
  if (fields.length === 0) throw new Error(`${file}: Arrow table has no columns; ${LAYOUTS}`);
  const rows = table.numRows;

  if (fields.length === 1 && A.DataType.isFixedSizeList(fields[0].type)) {
    const listType = fields[0].type as A.FixedSizeList;
    const name = fields[0].name;
    const elementType = listType.children[0].type;
    if (!isFloat32or64(elementType)) {
      throw new Error(`${file}: column '${name}' is a FixedSizeList of ${describe(elementType)}; ${LAYOUTS}`);
    }
    const cols = listType.listSize;
    if (cols < 1) throw new Error(`${file}: column '${name}' has list size ${cols}; need at least one hidden dimension`);
    const column = table.getChildAt(0)!;
    if (column.nullCount > 0) throw new Error(`${file}: column '${name}' has ${column.nullCount} null rows`);
    const values = column.getChildAt(0)!;
    if (values.nullCount > 0) throw new Error(`${file}: column '${name}' has ${values.nullCount} null values`);
    const flat = values.toArray() as Float32Array | Float64Array;
    if (flat.length !== rows * cols) {
      throw new Error(`${file}: column '${name}' holds ${flat.length} values, expected ${rows}×${cols} = ${rows * cols}`);
    }
    return { data: Float64Array.from(flat), rows, cols, layout: 'list' };
  }

  const cols = fields.length;
  for (const f of fields) {
    if (!isFloat32or64(f.type)) throw new Error(`${file}: column '${f.name}' is ${describe(f.type)}; ${LAYOUTS}`);
  }
  const data = new Float64Array(rows * cols);
  for (let j = 0; j < cols; j++) {
    const column = table.getChildAt(j)!;
    if (column.nullCount > 0) throw new Error(`${file}: column '${fields[j].name}' has ${column.nullCount} null values`);
    const values = column.toArray() as Float32Array | Float64Array;
    for (let i = 0; i < rows; i++) data[i * cols + j] = values[i];
  }
  return { data, rows, cols, layout: 'wide' };
}
