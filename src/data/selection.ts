// Which records of a dataset are evaluated: filter → seeded sample → limit, in file order.
//
// Sampling is a "bottom-k" sample: every record gets a pseudo-random key that depends only on the
// seed and its physical position, and the `count` eligible records with the smallest keys are kept.
// The subset is therefore fixed by (seed, file), keeps file order, and a shard reader can decide any
// record on its own from the cut (the largest key kept), without seeing the rest of the file.
import { ownField } from './template.ts';

/** The largest (key, physical row) pair a seeded sample keeps; JSON-serialisable. */
export interface SampleCut {
  seed: number;
  key: number;
  physicalRow: number;
}

/** A field is empty when absent, null, or only whitespace. */
export function isEmptyValue(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

export function passesFilter(record: Record<string, unknown>, nonEmpty: readonly string[]): boolean {
  for (const f of nonEmpty) if (isEmptyValue(ownField(record, f))) return false;
  return true;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Key in [0, 1) of a physical row under a seed (53 bits from two murmur3 finalisers). */
export function sampleKey(seed: number, physicalRow: number): number {
  const s = fmix32((seed >>> 0) ^ fmix32(Math.floor(seed / 2 ** 32) + 0x9e3779b9));
  const lo = physicalRow >>> 0;
  const hi = Math.floor(physicalRow / 2 ** 32);
  const h1 = fmix32(s ^ fmix32(lo ^ fmix32(hi + 0x7f4a7c15)));
  const h2 = fmix32(h1 ^ fmix32(lo + 0x165667b1) ^ s);
  return (h1 * 2 ** 21 + (h2 >>> 11)) / 2 ** 53;
}

function before(k1: number, r1: number, k2: number, r2: number): boolean {
  return k1 < k2 || (k1 === k2 && r1 < r2);
}

export function inSample(cut: SampleCut, physicalRow: number): boolean {
  const k = sampleKey(cut.seed, physicalRow);
  return !before(cut.key, cut.physicalRow, k, physicalRow);
}

/** Keeps the `count` smallest keys seen (a max-heap of size count). */
export class BottomK {
  private keys: number[] = [];
  private rows: number[] = [];
  seen = 0;

  constructor(
    readonly seed: number,
    readonly count: number,
  ) {}

  offer(physicalRow: number): void {
    this.seen++;
    const k = sampleKey(this.seed, physicalRow);
    const { keys, rows } = this;
    if (keys.length < this.count) {
      keys.push(k);
      rows.push(physicalRow);
      let i = keys.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!before(keys[p], rows[p], keys[i], rows[i])) break;
        this.swap(i, p);
        i = p;
      }
    } else if (this.count > 0 && before(k, physicalRow, keys[0], rows[0])) {
      keys[0] = k;
      rows[0] = physicalRow;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < keys.length && before(keys[m], rows[m], keys[l], rows[l])) m = l;
        if (r < keys.length && before(keys[m], rows[m], keys[r], rows[r])) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
  }

  /** The cut, or undefined when every eligible record is kept. */
  cut(): SampleCut | undefined {
    if (this.seen <= this.count || this.keys.length === 0) return undefined;
    return { seed: this.seed, key: this.keys[0], physicalRow: this.rows[0] };
  }

  private swap(i: number, j: number): void {
    [this.keys[i], this.keys[j]] = [this.keys[j], this.keys[i]];
    [this.rows[i], this.rows[j]] = [this.rows[j], this.rows[i]];
  }
}
