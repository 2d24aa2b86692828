// config.json beside an ONNX model: the Hugging Face config that `optimum-cli export onnx` copies next
// to model.onnx. Several readers use it (block count and width for tap discovery, the position
// limit, KV-cache head sizes, the untrained twin's initialisation); they read it through here so a
// missing file means "no hints" everywhere and an unreadable one is the same InputError everywhere.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../errors.ts';

/** The parsed config.json beside `onnxPath`; undefined when there is none. */
export function readModelConfig(onnxPath: string): Record<string, unknown> | undefined {
  const file = modelConfigPath(onnxPath);
  if (!existsSync(file)) return undefined;
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as Error).message}`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new InputError(`${file} is not a JSON object`);
  return config as Record<string, unknown>;
}

/** Where that file is. */
export function modelConfigPath(onnxPath: string): string {
  return join(dirname(onnxPath), 'config.json');
}

/** The first of `keys` whose value is a positive integer (HF spells one setting several ways:
 * hidden_size / n_embd / d_model). */
export function positiveIntegerOf(config: Record<string, unknown>, ...keys: string[]): { key: string; value: number } | undefined {
  for (const key of keys) {
    const v = config[key];
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) return { key, value: v };
  }
  return undefined;
}
