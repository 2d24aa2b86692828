// .npy reading and writing (src/io/npy.ts): round trips, and a clear error naming the file for each bad input.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readNpy, writeNpy } from '../../src/io/npy.ts';

/** A .npy file with an arbitrary header dict and data bytes (version 1 unless given). */
function rawNpy(header: string, data: Uint8Array, major = 1): Uint8Array {
  const pre = major === 1 ? 10 : 12;
  let h = header;
  h += ' '.repeat((64 - ((pre + h.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(pre + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, h.length, true);
  else view.setUint32(8, h.length, true);
  for (let i = 0; i < h.length; i++) out[pre + i] = h.charCodeAt(i);
  out.set(data, pre + h.length);
  return out;
}

const f8 = (values: number[]) => new Uint8Array(Float64Array.from(values).buffer);

describe('npy round trip', () => {
  it('float32 and float64 matrices read back with the same shape, dtype and values', () => {
    const a32 = Float32Array.from({ length: 3 * 5 }, (_, i) => i * 0.25 - 1.5);
    const a64 = Float64Array.from({ length: 4 * 2 }, (_, i) => Math.PI * i - 1e-300);
    for (const [data, rows, cols] of [[a32, 3, 5], [a64, 4, 2], [new Float64Array(0), 0, 7]] as const) {
      const bytes = writeNpy(data, rows, cols);
      assert.equal((bytes[8] | (bytes[9] << 8)) + 10, bytes.length - data.byteLength, 'header length field');
      assert.equal((bytes.length - data.byteLength) % 64, 0, 'data starts on a 64-byte boundary');
      const back = readNpy(bytes, 'x.npy');
      assert.equal(back.rows, rows);
      assert.equal(back.cols, cols);
      assert.equal(back.data.constructor, data.constructor);
      assert.deepEqual(Array.from(back.data), Array.from(data));
    }
  });

  it('reads version 2 and 3 headers and data at an unaligned byte offset', () => {
    for (const major of [2, 3]) {
      const file = rawNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", f8([1, 2, 3, 4]), major);
      const shifted = new Uint8Array(file.length + 1).subarray(1);
      shifted.set(file);
      const m = readNpy(shifted, 'v.npy');
      assert.deepEqual([m.rows, m.cols, Array.from(m.data)], [2, 2, [1, 2, 3, 4]]);
    }
  });
});

describe('npy bad input fails with an error naming the file', () => {
  const header = (descr: string, fortran: string, shape: string) => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;

  it('bad magic is rejected', () => {
    assert.throws(() => readNpy(new TextEncoder().encode('PK\u0003\u0004 this is a zip, not npy'), 'h.npz'), /^Error: h\.npz: not a \.npy file \(bad magic/);
  });

  it('1-D and 3-D arrays are rejected as not 2-D', () => {
    assert.throws(() => readNpy(rawNpy(header('<f8', 'False', '(4,)'), f8([1, 2, 3, 4])), 'one.npy'), /one\.npy: expected a 2-D array .*got shape \(4,\)/);
    assert.throws(() => readNpy(rawNpy(header('<f8', 'False', '(1, 2, 2)'), f8([1, 2, 3, 4])), 'three.npy'), /three\.npy: expected a 2-D array .*\(1, 2, 2\)/);
  });

  it('an unsupported dtype is rejected, saying which', () => {
    assert.throws(() => readNpy(rawNpy(header('<i8', 'False', '(2, 2)'), f8([1, 2, 3, 4])), 'ints.npy'), /ints\.npy: unsupported dtype '<i8'/);
    assert.throws(() => readNpy(rawNpy(header('>f8', 'False', '(2, 2)'), f8([1, 2, 3, 4])), 'be.npy'), /be\.npy: unsupported dtype '>f8'/);
    assert.throws(() => readNpy(rawNpy(header('<f2', 'False', '(2, 2)'), f8([1])), 'half.npy'), /half\.npy: unsupported dtype '<f2'/);
  });

  it('Fortran order is rejected', () => {
    assert.throws(() => readNpy(rawNpy(header('<f8', 'True', '(2, 2)'), f8([1, 2, 3, 4])), 'f.npy'), /f\.npy: Fortran-order arrays are not supported/);
  });

  it('truncated data is rejected with the byte counts', () => {
    assert.throws(() => readNpy(rawNpy(header('<f8', 'False', '(2, 3)'), f8([1, 2, 3, 4])), 't.npy'), /t\.npy: truncated data: .* needs 48 bytes, file has 32/);
  });

  it('a truncated header is rejected', () => {
    const full = writeNpy(new Float64Array(4), 2, 2);
    assert.throws(() => readNpy(full.subarray(0, 40), 'cut.npy'), /cut\.npy: truncated \.npy header/);
  });

  it('an unknown format version is rejected', () => {
    const bytes = writeNpy(new Float64Array(4), 2, 2);
    bytes[6] = 9;
    assert.throws(() => readNpy(bytes, 'v9.npy'), /v9\.npy: unsupported \.npy format version 9/);
  });
});

describe('readNpy without copies', () => {
  it('returns a view on the bytes when the data is aligned, and a correct copy when it is not', () => {
    const values = Float64Array.from({ length: 12 }, (_, i) => i * 1.5 - 3);
    const file = writeNpy(values, 3, 4);
    const view = readNpy(file, 'aligned.npy');
    assert.equal(view.data.buffer, file.buffer, 'aligned data shares the file bytes');
    assert.deepEqual(Array.from(view.data), Array.from(values));
    // The same file one byte into a larger buffer: the data start is no longer 8-aligned.
    const shifted = new Uint8Array(file.length + 1);
    shifted.set(file, 1);
    const copy = readNpy(shifted.subarray(1), 'shifted.npy');
    assert.notEqual(copy.data.buffer, shifted.buffer);
    assert.deepEqual(Array.from(copy.data), Array.from(values));
  });
});
