// A WebAssembly kernel of this folder (eigen.wasm, gram.wasm): compiled once per process,
// instantiated on first use, its linear memory grown on demand and dropped after a call that left it
// above `retainBytes`, so one large matrix does not pin memory. When the file is missing, the
// runtime lacks SIMD or memory cannot grow, callers take their TypeScript path.
import { readFileSync } from 'node:fs';

const PAGE_BYTES = 65536;

export interface KernelExports {
  memory: WebAssembly.Memory;
  __heap_base: WebAssembly.Global;
}

export class WasmKernel<T extends KernelExports> {
  private module: WebAssembly.Module | null | undefined; // undefined: not tried yet; null: unavailable
  private instance: T | undefined;

  constructor(
    private readonly file: URL,
    private readonly retainBytes: number,
  ) {}

  /** Whether the kernel can run in this process. */
  available(): boolean {
    if (this.module === undefined) {
      try {
        this.module = new WebAssembly.Module(readFileSync(this.file));
      } catch {
        this.module = null;
      }
    }
    return this.module !== null;
  }

  /** The live instance's exports, instantiating it if needed; undefined when unavailable. */
  exports(): T | undefined {
    if (!this.available()) return undefined;
    try {
      this.instance ??= new WebAssembly.Instance(this.module!, {}).exports as unknown as T;
    } catch {
      this.module = null;
      return undefined;
    }
    return this.instance;
  }

  /** Grows the live instance's memory to at least `end` bytes; false (instance dropped) if it cannot. */
  ensureMemory(end: number): boolean {
    const ex = this.instance;
    if (ex === undefined || end > 2 ** 32) return false;
    const have = ex.memory.buffer.byteLength;
    if (end > have) {
      try {
        ex.memory.grow(Math.ceil((end - have) / PAGE_BYTES));
      } catch {
        this.instance = undefined;
        return false;
      }
    }
    return true;
  }

  /** After a call: drops the instance if its memory grew past `retainBytes`. */
  done(): void {
    if (this.instance && this.instance.memory.buffer.byteLength > this.retainBytes) this.instance = undefined;
  }

  /** Bytes of linear memory held between calls (0 when no instance is live). */
  heldBytes(): number {
    return this.instance?.memory.buffer.byteLength ?? 0;
  }
}
