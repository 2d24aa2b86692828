// The onnxruntime execution provider a worker runs its models on: a property of the machine the
// worker runs on (a GPU box says `cuda`), not of the evaluation. It is chosen once per worker
// process (`entroscope worker --execution-provider`, `run`/`sweep --execution-provider` for the
// embedded worker, or ENTROSCOPE_EXECUTION_PROVIDER), checked when the worker starts, passed to
// every InferenceSession, and recorded in each shard's runtime (done.json), so shards extracted on
// different providers are never mixed into one result unawares (see extractionRuntime.ts).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { InputError } from '../errors.ts';

export const EXECUTION_PROVIDER_ENV = 'ENTROSCOPE_EXECUTION_PROVIDER';

/** The provider this process was configured with (default `cpu`); not yet checked. */
export function configuredExecutionProvider(): string {
  const name = (process.env[EXECUTION_PROVIDER_ENV] ?? '').trim().toLowerCase();
  return name === '' ? 'cpu' : name;
}

interface Backend {
  name: string;
  bundled: boolean;
}

/**
 * `name` if this onnxruntime-node build can run it, else an InputError that says which providers
 * it can run and how to get the missing one. onnxruntime-node lists the providers it was compiled
 * with; those not bundled in the npm package (CUDA, TensorRT) work only when their shared library
 * was installed beside the binding (`npm install onnxruntime-node --onnxruntime-node-install=cuda12`
 * on a machine with CUDA 12 and cuDNN 9), which this checks by file.
 */
export async function checkExecutionProvider(name: string): Promise<string> {
  const ort = await import('onnxruntime-node');
  const backends = (ort as unknown as { listSupportedBackends?: () => Backend[] }).listSupportedBackends?.() ?? [{ name: 'cpu', bundled: true }];
  const usable = backends.filter((b) => b.bundled || existsSync(join(bindingDir(), `libonnxruntime_providers_${b.name}.so`)));
  if (usable.some((b) => b.name === name)) return name;
  const known = backends.find((b) => b.name === name);
  const install =
    known && !known.bundled
      ? `: its binaries are not installed (reinstall with \`npm install onnxruntime-node --onnxruntime-node-install=${name === 'cuda' ? 'cuda12' : name}\`; this project's .npmrc skips them)`
      : ` (not built into onnxruntime-node on ${process.platform}/${process.arch})`;
  throw new InputError(
    `execution provider "${name}" is not available${install}; available here: ${usable.map((b) => b.name).join(', ')}`,
  );
}

/** The folder of onnxruntime-node's native binding, where provider libraries are installed. */
function bindingDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve('onnxruntime-node/package.json'));
  return join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}
