// The workflow code as one prebuilt bundle. Bundling with webpack (`bundleWorkflowCode`) takes
// 5–10 s, so it is done once per content: the bundle is cached under
// `$ENTROSCOPE_CACHE/workflow-bundles/<key>.js`, the key being the sha256 of every workflows/ source
// and the versions of the Temporal packages and Node that shape it. `npm run bundle:workflows`
// builds it ahead (e.g. in a worker image); otherwise the first worker start does.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packagePath } from '../src/io/packageRoot.ts';

// Always the TypeScript sources at the package root, also when this module runs compiled from dist/:
// Temporal's bundler (webpack + swc) compiles them itself, and the key (below) stays the same.
const workflowsDir = packagePath('workflows');
/** Bump when the way the bundle is built changes. */
const BUNDLE_FORMAT = 1;

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** The content key of the workflow bundle (sources + SDK and Node versions). */
export function workflowBundleKey(): string {
  const require = createRequire(import.meta.url);
  const version = (pkg: string) => (require(`${pkg}/package.json`) as { version: string }).version;
  const sources = readdirSync(workflowsDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((f) => [f, sha256(readFileSync(join(workflowsDir, f)))]);
  const sdk = ['@temporalio/workflow', '@temporalio/worker', '@temporalio/common'].map((p) => [p, version(p)]);
  return sha256(JSON.stringify({ format: BUNDLE_FORMAT, node: process.version, sdk, sources })).slice(0, 24);
}

/** Path of the cached bundle for the current sources (built if missing). */
export async function workflowBundlePath(cacheDir = process.env.ENTROSCOPE_CACHE ?? join(homedir(), '.cache', 'entroscope')): Promise<string> {
  const path = join(cacheDir, 'workflow-bundles', `${workflowBundleKey()}.js`);
  if (existsSync(path)) return path;
  // Loaded only when a bundle must be built: webpack is heavy.
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(workflowsDir, 'index.ts'),
    logger: { log() {}, info() {}, warn: console.warn, error: console.error, debug() {}, trace() {} } as never,
  });
  mkdirSync(join(cacheDir, 'workflow-bundles'), { recursive: true });
  // Atomic (temp + rename): a reader never sees half a bundle; concurrent builders write the same bytes.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, code);
  renameSync(tmp, path);
  return path;
}

// `npm run bundle:workflows`: build the bundle ahead of the first worker start.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.stdout.write(`${await workflowBundlePath()}\n`);
}
