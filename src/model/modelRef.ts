// Where a model's files are: a folder holding one `.onnx` and a `tokenizer.json`, or an `.onnx`
// file with `tokenizer.json` (or `<stem>-tokenizer.json`) beside it.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.ts';

export interface ModelFiles {
  /** Human name: the folder name, or the .onnx file stem. */
  name: string;
  onnxPath: string;
  tokenizerPath: string;
}

export function resolveModelFiles(location: string): ModelFiles {
  const path = resolve(location);
  if (!existsSync(path)) throw new InputError(`model not found: ${path} (give a folder with model.onnx + tokenizer.json, or an .onnx file)`);
  if (statSync(path).isDirectory()) {
    const onnx = readdirSync(path).filter((f) => f.endsWith('.onnx')).sort();
    if (onnx.length === 0) throw new InputError(`model folder has no .onnx file: ${path}`);
    const onnxFile = onnx.includes('model.onnx') ? 'model.onnx' : onnx[0];
    return { name: basename(path), onnxPath: join(path, onnxFile), tokenizerPath: findTokenizer(path, onnxFile) };
  }
  if (!path.endsWith('.onnx')) throw new InputError(`model file is not an .onnx file: ${path}`);
  return {
    name: basename(path, '.onnx'),
    onnxPath: path,
    tokenizerPath: findTokenizer(dirname(path), basename(path)),
  };
}

function findTokenizer(dir: string, onnxFile: string): string {
  const candidates = ['tokenizer.json', `${basename(onnxFile, '.onnx')}-tokenizer.json`];
  for (const c of candidates) if (existsSync(join(dir, c))) return join(dir, c);
  throw new InputError(`no tokenizer JSON beside the model in ${dir} (looked for ${candidates.join(', ')})`);
}
