// The CLI compiled by `npm run build` (infra/build.mjs, here into a temp folder inside the package)
// runs real jobs as plain JavaScript, with no TypeScript loader anywhere: `spectrum` on a .npy that
// numpy wrote gives numpy's metrics; `layers` numbers a real optimum export's layers as
// transformers' output_hidden_states does; `run` (embedded dev server, worker, pool threads, with a
// fresh cache so the compiled worker has Temporal's bundler build the workflow bundle) gives the
// dataset metrics PyTorch gives on the checkpoint (hf_oracle.py: AutoTokenizer, output_hidden_states,
// numpy). The build gets its own node_modules/tsx, a package that throws when loaded: Node resolves
// packages from the nearest node_modules first, so if the compiled CLI, a pool thread or a helper
// thread tried to register tsx it would fail; and Node 20 cannot import a .ts file without a loader.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ASSET_EXTENSIONS, SOURCE_DIRS, STAMP } from '../../bin/builtCli.js';
import { temporalBinary } from '../../cli/temporalDevServer.ts';
import { cacheDir, hfPythonBin, runOracle } from '../helpers/services.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const hf = join(cacheDir, 'zoo', 'llama', 'hf');
const onnx = join(cacheDir, 'zoo', 'llama', 'no-past');
if (!existsSync(join(onnx, 'model.onnx'))) throw new Error(`${onnx} is missing: run infra/build-zoo.sh (npm test does)`);
const MAX_TOKENS = 40;
const METRICS = ['entropy', 'erank', 'normalizedEntropy', 'renyi2', 'nuclearNorm'] as const;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}
interface OracleLayer { skipped: boolean; entropy?: number; erank?: number; normalizedEntropy?: number }
interface HfOracle { numLayers: number; postNorm: boolean; perSample: Array<{ ids: number[]; layers: Record<string, OracleLayer> }> }

let build: string;
let out: string;
let texts: string[];
let oracle: HfOracle;
const servers: string[] = [];

function exec(file: string, args: string[], env: NodeJS.ProcessEnv, timeout: number): Promise<Result> {
  const full: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '', ...env };
  // The test services' server has no worker for these runs: `run` must start its embedded one.
  delete full.TEMPORAL_ADDRESS;
  return new Promise((resolve) => {
    execFile(process.execPath, [file, ...args], { env: full, timeout, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** `node <build>/cli/main.js …` with no loader flags (NODE_OPTIONS cleared). */
const compiled = (args: string[], env: NodeJS.ProcessEnv = {}, timeout = 300_000) => exec(join(out, 'cli', 'main.js'), args, env, timeout);
/** The same command from the TypeScript sources: bin/entroscope.js told to run them through tsx. */
const sources = (args: string[], env: NodeJS.ProcessEnv = {}, timeout = 300_000) => exec(join(root, 'bin', 'entroscope.js'), args, { ...env, ENTROSCOPE_FROM_SOURCES: '1' }, timeout);

function json<T>(r: Result): T {
  assert.equal(r.code, 0, `exit code 0 expected; stderr: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

function relClose(actual: unknown, expected: number, tol: number, what: string): void {
  assert.ok(typeof actual === 'number' && Number.isFinite(actual), `${what}: got ${actual}, expected ${expected}`);
  const err = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-12);
  assert.ok(err <= tol, `${what}: ${actual} vs oracle ${expected} (relative error ${err.toExponential(2)} > ${tol})`);
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

before(async () => {
  await mkdir(join(root, '.build'), { recursive: true });
  build = await mkdtemp(join(root, '.build', 'test-'));
  out = join(build, 'dist');
  const built = await new Promise<Result>((resolve) => {
    execFile(process.execPath, [join(root, 'infra', 'build.mjs'), '--out-dir', out], { cwd: root, timeout: 600_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? 1 : 0, stdout, stderr }),
    );
  });
  assert.equal(built.code, 0, `the build failed: ${built.stderr}`);
  // The guard: any attempt to load tsx from the compiled tree resolves to this package and throws.
  const guard = join(out, 'node_modules', 'tsx');
  await mkdir(join(guard, 'esm'), { recursive: true });
  await writeFile(join(guard, 'package.json'), JSON.stringify({ name: 'tsx', type: 'module', exports: { '.': './guard.js', './esm/api': './guard.js' } }));
  await writeFile(join(guard, 'guard.js'), "throw new Error('tsx was loaded by the compiled CLI');\n");

  const demo = (await readFile(join(root, 'data/demo/brown-200.jsonl'), 'utf8')).trim().split('\n');
  texts = demo.slice(20, 24).map((l) => (JSON.parse(l) as { text: string }).text);
  oracle = await runOracle<HfOracle>(join(root, 'test/oracle/hf_oracle.py'), { hf, texts, maxTokens: MAX_TOKENS }, hfPythonBin);
});

after(async () => {
  for (const state of servers) {
    const file = join(state, 'dev-server.json');
    if (!existsSync(file)) continue;
    const { keeperPid } = JSON.parse(readFileSync(file, 'utf8')) as { keeperPid?: number };
    try {
      if (keeperPid) process.kill(keeperPid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  if (build) await rm(build, { recursive: true, force: true });
});

describe('the compiled CLI (npm run build) without a TypeScript loader', () => {
  test('the build holds no .ts import and copies every file the code loads by path', async () => {
    const assets = SOURCE_DIRS.flatMap((dir) =>
      readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
        .filter((f) => ASSET_EXTENSIONS.includes(extname(f)))
        .map((f) => join(dir, f)),
    );
    for (const f of ['src/linalg/wasm/gram.wasm', 'src/model/onnx.proto', 'cli/devServerKeeper.mjs']) assert.ok(assets.includes(f), `${f} is an asset`);
    for (const f of [...assets, 'src/parallel/threadMain.js', 'workers/workflowBundle.js', STAMP]) assert.ok(existsSync(join(out, f)), `${f} is in the build`);
    const main = await readFile(join(out, 'cli', 'main.js'), 'utf8');
    assert.doesNotMatch(main, /from '\.{1,2}\/[^']*\.ts'|import\("\.{1,2}\/[^"]*\.ts"\)/, 'relative imports point at .js');
  });

  test('spectrum of a .npy numpy wrote equals numpy (1e-9 relative)', async () => {
    const file = join(build, 'x.npy');
    const expected = await runOracle<Record<string, number>>(join(root, 'test/oracle/npy_spectrum.py'), { out: file, rows: 300, cols: 48, seed: 7 }, hfPythonBin);
    const got = json<Record<string, unknown>>(await compiled(['spectrum', file, '--json']));
    for (const m of METRICS) relClose(got[m], expected[m], 1e-9, m);
    assert.equal(got.tokens, 300);
    assert.equal(got.dim, 48);
    assert.deepEqual(got, json(await sources(['spectrum', file, '--json'])), 'the tsx run prints the same numbers, bit for bit');
  });

  test('layers of an optimum export number its hidden states as transformers does', async () => {
    const got = json<{ blocks: number; layers: Array<{ name: string; hfIndex: number | null }> }>(await compiled(['layers', onnx, '--json']));
    assert.equal(got.blocks, oracle.numLayers);
    const indices = got.layers.map((l) => l.hfIndex).filter((i): i is number => i !== null).sort((a, b) => a - b);
    assert.deepEqual(indices, Array.from({ length: oracle.numLayers + 1 }, (_, i) => i), 'one layer per output_hidden_states index');
    assert.deepEqual(got, json(await sources(['layers', onnx, '--json'])), 'the tsx run lists the same layers');
  });

  test('run (embedded dev server, worker, pool threads, fresh workflow bundle) gives PyTorch’s dataset metrics (≤ 1e-5), as the tsx run does', async () => {
    const data = join(build, 'texts.jsonl');
    await writeFile(data, texts.map((text) => JSON.stringify({ text })).join('\n') + '\n');
    const state = join(build, 'state');
    servers.push(state);
    const env = {
      ENTROSCOPE_CACHE: join(build, 'cache'),
      ENTROSCOPE_TEMPORAL_BIN: temporalBinary(),
      ENTROSCOPE_TEMPORAL_PORT: String(await freePort()),
      ENTROSCOPE_DEV_SERVER_IDLE: '0',
      ENTROSCOPE_THREADS: '1',
    };
    const r = json<{ summary: { metrics: Record<string, number>; dataset: { rows: number } } }>(
      await compiled(['run', '--model', onnx, '--data', data, '--max-tokens', String(MAX_TOKENS), '--state-dir', state, '--json'], env, 600_000),
    );
    const last = oracle.perSample.map((s) => s.layers[String(oracle.numLayers)]).filter((l) => !l.skipped);
    assert.equal(r.summary.dataset.rows, texts.length);
    assert.equal(r.summary.metrics.samplesUsed, last.length);
    const mean = (k: 'entropy' | 'erank' | 'normalizedEntropy') => last.reduce((s, l) => s + l[k]!, 0) / last.length;
    relClose(r.summary.metrics.meanEntropy, mean('entropy'), 1e-5, 'meanEntropy');
    relClose(r.summary.metrics.meanErank, mean('erank'), 1e-5, 'meanErank');
    relClose(r.summary.metrics.meanNormalizedEntropy, mean('normalizedEntropy'), 1e-5, 'meanNormalizedEntropy');
    assert.ok(existsSync(join(env.ENTROSCOPE_CACHE, 'workflow-bundles')), 'the compiled worker built the workflow bundle');

    // The same evaluation from the TypeScript sources, in its own state folder (its own dev server
    // and store, so every shard is computed again): the same metrics, bit for bit.
    const state2 = join(build, 'state-tsx');
    servers.push(state2);
    const env2 = { ...env, ENTROSCOPE_TEMPORAL_PORT: String(await freePort()) };
    const t = json<{ summary: { metrics: Record<string, number> } }>(
      await sources(['run', '--model', onnx, '--data', data, '--max-tokens', String(MAX_TOKENS), '--state-dir', state2, '--json'], env2, 600_000),
    );
    assert.deepEqual(t.summary.metrics, r.summary.metrics);
  });
});
