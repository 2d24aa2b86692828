// A WebAssembly kernel of this folder (eigen.wasm, gram.wasm): compiled once per process,
// instantiated on first use, its linear memory grown on demand and dropped after a call that left it
// above `retainBytes`, so one large matrix does not pin memory. When the file is missing, the
// runtime lacks SIMD or memory cannot grow, callers take their TypeScript path.
// Each kernel has a plain SIMD build and a relaxed-SIMD (FMA) one; the FMA build is used where
// relaxedSimd.ts says the runtime has it. A kernel built on an imported shared memory (gram.wasm)
// gets one WebAssembly.Memory({ shared: true }) made here, which helper threads instantiate the
// same module on (gramThreads.ts).
import { readFileSync } from 'node:fs';
import { relaxedSimdAvailable } from './relaxedSimd.ts';

const PAGE_BYTES = 65536;

export interface KernelExports {
  memory: WebAssembly.Memory;
  __heap_base: WebAssembly.Global;
}

export interface KernelBuilds {
  /** Plain SIMD build. */
  plain: URL;
  /** Relaxed-SIMD (FMA) build, used where the runtime validates relaxed SIMD. */
  fma: URL;
}

export class WasmKernel<T extends KernelExports> {
  private module: WebAssembly.Module | null | undefined; // undefined: not tried yet; null: unavailable
  private instance: T | undefined;
  private sharedMemory: WebAssembly.Memory | undefined;
  /** Which build `module` is. */
  private build: 'plain' | 'fma' | undefined;

  constructor(
    private readonly files: KernelBuilds,
    private readonly retainBytes: number,
    /** Whether the module imports its memory as shared (env.memory). */
    private readonly importsSharedMemory = false,
  ) {}

  /** Whether the kernel can run in this process. */
  available(): boolean {
    if (this.module === undefined) {
      this.module = null;
      const order: Array<'fma' | 'plain'> = relaxedSimdAvailable() ? ['fma', 'plain'] : ['plain'];
      for (const build of order) {
        try {
          this.module = new WebAssembly.Module(new Uint8Array(readFileSync(this.files[build])));
          this.build = build;
          break;
        } catch {
          this.module = null;
        }
      }
    }
    return this.module !== null;
  }

  /** 'fma' or 'plain': the build in use (undefined when unavailable). */
  buildInUse(): 'plain' | 'fma' | undefined {
    return this.available() ? this.build : undefined;
  }

  /** The compiled module (for helper threads); undefined when unavailable. */
  compiled(): WebAssembly.Module | undefined {
    return this.available() ? this.module! : undefined;
  }

  /** The live instance's shared memory (imported-memory kernels only). */
  memory(): WebAssembly.Memory | undefined {
    return this.instance === undefined ? undefined : this.sharedMemory;
  }

  /** The live instance's exports, instantiating it if needed; undefined when unavailable. */
  exports(): T | undefined {
    if (!this.available()) return undefined;
    try {
      if (this.instance === undefined) {
        let imports: WebAssembly.Imports = {};
        if (this.importsSharedMemory) {
          this.sharedMemory = new WebAssembly.Memory({ initial: 32, maximum: 65536, shared: true });
          imports = { env: { memory: this.sharedMemory } };
        }
        const exports = new WebAssembly.Instance(this.module!, imports).exports as Record<string, unknown>;
        this.instance = (this.sharedMemory ? { ...exports, memory: this.sharedMemory } : exports) as unknown as T;
      }
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
        this.drop();
        return false;
      }
    }
    return true;
  }

  /** After a call: drops the instance if its memory grew past `retainBytes`. */
  done(): void {
    if (this.instance && this.instance.memory.buffer.byteLength > this.retainBytes) this.drop();
  }

  private drop(): void {
    this.instance = undefined;
    this.sharedMemory = undefined;
  }

  /** Bytes of linear memory held between calls (0 when no instance is live). */
  heldBytes(): number {
    return this.instance?.memory.buffer.byteLength ?? 0;
  }
}
