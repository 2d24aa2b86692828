// Whether this runtime runs WebAssembly relaxed SIMD (f64x2.relaxed_madd: a fused multiply-add
// where the CPU has FMA), checked once per process by validating a tiny module that uses it.
// V8 ships it from 11.4 (Node ≥ 22); Node 20's V8 11.3 has it only when the process was started with
// `node --experimental-wasm-relaxed-simd` (V8 flags are not switched at run time here). Where it does
// not validate, the kernels use their plain SIMD builds; ENTROSCOPE_WASM_FMA=0 forces those.

/** (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f64x2.relaxed_madd) */
const PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // type: (v128 v128 v128) → v128
  0x03, 0x02, 0x01, 0x00, // one function of that type
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x87, 0x02, 0x0b, // body
]);

let cached: boolean | undefined;

/** Whether the relaxed-SIMD (FMA) builds of the kernels can be used in this process. */
export function relaxedSimdAvailable(): boolean {
  if (cached !== undefined) return cached;
  if (process.env.ENTROSCOPE_WASM_FMA === '0') return (cached = false);
  return (cached = WebAssembly.validate(PROBE));
}
