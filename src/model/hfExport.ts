// Hugging Face checkpoints → ONNX, the way users export them: optimum's exporter
// (`python -m optimum.exporters.onnx`, what `optimum-cli export onnx` runs) in the project's own
// Python environment ($ENTROSCOPE_HF_VENV, default $ENTROSCOPE_CACHE/hf-venv; installed on first use
// by infra/install-hf.sh). The output folder gets `entroscope-export.json`: the source checkpoint's
// sha256 (over its files), the task, and the versions of torch / transformers / optimum used.
//
// `run --model HF_DIR` exports once into $ENTROSCOPE_CACHE/exported/<checkpoint sha256>/ and
// evaluates that; the folder appears atomically (exported into a temp folder, then renamed).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import { sha256, sha256File } from '../io/hash.ts';
import { packagePath } from '../io/packageRoot.ts';
import { cacheRoot } from './onnxTaps.ts';

const WEIGHT_FILE = /\.(safetensors|bin|gguf)$/;
const installScript = packagePath('infra', 'install-hf.sh');

export interface ExportInfo {
  source: string;
  /** sha256 over the checkpoint's files (name and content), sorted by name. */
  sourceSha256: string;
  task: string;
  versions: Record<string, string>;
}

/** A folder with config.json and weights but no .onnx: a Hugging Face checkpoint to export. */
export function isHfCheckpoint(dir: string): boolean {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return false;
  const files = readdirSync(dir);
  return files.includes('config.json') && files.some((f) => WEIGHT_FILE.test(f)) && !files.some((f) => f.endsWith('.onnx'));
}

/** The optimum task for a checkpoint: causal LMs with their logits and KV cache, else hidden states. */
export function exportTask(dir: string): string {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { architectures?: string[] };
  // GPT2LMHeadModel, LlamaForCausalLM, …: a causal LM head.
  return (config.architectures ?? []).some((a) => /(ForCausalLM|LMHeadModel)$/.test(a)) ? 'text-generation-with-past' : 'feature-extraction';
}

export async function checkpointSha256(dir: string): Promise<string> {
  const files = readdirSync(dir)
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
  const parts: string[] = [];
  for (const f of files) parts.push(`${f}:${await sha256File(join(dir, f))}`);
  return sha256(parts.join('\n'));
}

function hfPython(): string {
  const venv = process.env.ENTROSCOPE_HF_VENV ?? join(cacheRoot(), 'hf-venv');
  return join(venv, 'bin', 'python');
}

function runLogged(cmd: string, args: string[], what: string): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let tail = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // optimum's progress and warnings go to our stderr (stdout stays the command's own).
    child.stderr.on('data', (d: Buffer) => {
      process.stderr.write(d);
      tail = (tail + d.toString()).slice(-4000);
    });
    child.on('error', (err) => reject(new InputError(`${what}: cannot start ${cmd}: ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolveRun(out) : reject(new InputError(`${what} failed (exit ${code}):\n${tail}`))));
  });
}

async function ensurePython(): Promise<string> {
  const python = hfPython();
  if (!existsSync(python)) {
    process.stderr.write(`entroscope: installing the export environment (torch, transformers, optimum-onnx) with ${installScript}\n`);
    await runLogged('bash', [installScript], 'installing the export environment');
  }
  return python;
}

/** Exports a checkpoint folder to `out` (replaced atomically). */
export async function exportHfCheckpoint(hfDir: string, out: string, opts: { task?: string } = {}): Promise<ExportInfo> {
  const source = resolve(hfDir);
  if (!existsSync(join(source, 'config.json'))) throw new InputError(`${source} is not a Hugging Face checkpoint (no config.json)`);
  const task = opts.task ?? exportTask(source);
  const python = await ensurePython();
  const tmp = `${resolve(out)}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  process.stderr.write(`entroscope: exporting ${source} (${task}) with optimum\n`);
  await runLogged(python, ['-m', 'optimum.exporters.onnx', '--model', source, '--task', task, tmp], `optimum export of ${source}`);
  const versions = JSON.parse(
    await runLogged(
      python,
      ['-c', 'import json, importlib.metadata as m; print(json.dumps({p: m.version(p) for p in ["torch", "transformers", "optimum", "optimum-onnx", "onnx"]}))'],
      'reading the export environment versions',
    ),
  ) as Record<string, string>;
  const info: ExportInfo = { source, sourceSha256: await checkpointSha256(source), task, versions };
  writeFileSync(join(tmp, 'entroscope-export.json'), JSON.stringify(info, null, 2) + '\n');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(resolve(out, '..'), { recursive: true });
  renameSync(tmp, out);
  return info;
}

/** A local HF checkpoint's export in the cache (made once), else the location unchanged. */
export async function onnxModelFor(location: string): Promise<string> {
  if (location.startsWith('s3://') || !isHfCheckpoint(location)) return location;
  const hash = await checkpointSha256(location);
  const dir = join(cacheRoot(), 'exported', hash.slice(0, 32));
  if (!existsSync(join(dir, 'entroscope-export.json'))) await exportHfCheckpoint(location, dir);
  return dir;
}
