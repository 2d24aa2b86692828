// The real services the integration tests use, as started by infra/services.sh (npm test does it).
// A test that needs one fails with a clear message when it is missing: never skipped silently.
import { CreateBucketCommand, S3Client, BucketAlreadyOwnedByYou } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests with \`npm test\`, which starts Temporal and MinIO`);
  return v;
}

export const cacheDir = process.env.ENTROSCOPE_CACHE ?? join(homedir(), '.cache', 'entroscope');
export const pythonBin = join(cacheDir, 'venv', 'bin', 'python');
/** The Hugging Face stack (torch, transformers, optimum: infra/install-hf.sh), for the PyTorch oracles. */
export const hfPythonBin = join(cacheDir, 'hf-venv', 'bin', 'python');
export const modelDir = (name: string): string => join(cacheDir, 'models', name);

export async function ensureBucket(bucket: string): Promise<void> {
  const s3 = new S3Client({ region: process.env.AWS_REGION ?? 'us-east-1', forcePathStyle: true });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if (!(err instanceof BucketAlreadyOwnedByYou) && (err as { name?: string }).name !== 'BucketAlreadyExists') throw err;
  } finally {
    s3.destroy();
  }
}

/** Runs a Python oracle script with JSON on stdin; returns its JSON output. */
export function runOracle<T>(script: string, input: unknown, python = pythonBin): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`oracle ${script} exited ${code}: ${err}`));
      resolve(JSON.parse(out) as T);
    });
    child.stdin.end(JSON.stringify(input));
  });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `entroscope` command. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 300_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const bin = new URL('../../bin/entroscope.js', import.meta.url).pathname;
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
