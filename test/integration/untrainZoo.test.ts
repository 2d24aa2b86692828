// The untrained twin of real exports, checked against Hugging Face's own initialisation: for each
// zoo architecture, `entroscope untrain` on the optimum export, then untrain_oracle.py matches every
// initialiser to the HF parameter it holds (by value, not by name) and compares the twin's statistics
// with `from_config`'s (_init_weights for that architecture); tied parameters must still be tied.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir, hfPythonBin, runCli, runOracle } from '../helpers/services.ts';

const zooFile = join(cacheDir, 'zoo', 'zoo.json');
if (!existsSync(zooFile)) throw new Error(`${zooFile} is missing: run infra/build-zoo.sh (npm test does)`);
const entries = (JSON.parse(readFileSync(zooFile, 'utf8')) as { entries: Array<{ arch: string; form: string; hf: string; onnx: string }> }).entries.filter(
  (e) => e.arch !== 'smollm2' && (e.form === 'with-past' || e.form === 'feature-extraction'),
);
const oracleScript = new URL('../oracle/untrain_oracle.py', import.meta.url).pathname;

interface Stats {
  mean: number;
  std: number;
  ones: boolean;
  zeros: boolean;
}
interface OracleOut {
  tensors: Array<{ onnx: string; hf: string; n: number; twin: Stats; hfInit: Stats }>;
  ties: Array<{ hf: string[]; onnx: string[]; equal: boolean }>;
}

let dir: string;
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-untrain-zoo-'));
});

describe("untrained twins of optimum exports against transformers' _init_weights", () => {
  for (const e of entries) {
    test(`${e.arch}: every weight's class statistics as from_config gives them, norms ones, biases zeros, ties kept; same seed, same bytes`, async () => {
      const twin = join(dir, `${e.arch}-a`);
      const res = await runCli(['untrain', e.onnx, '--seed', '3', '-o', twin, '--json']);
      assert.equal(res.code, 0, res.stderr);
      assert.ok(existsSync(join(twin, 'config.json')), 'config.json copied beside the twin');
      const o = await runOracle<OracleOut>(oracleScript, { hf: e.hf, trained: join(e.onnx, 'model.onnx'), twin: join(twin, 'model.onnx') }, hfPythonBin);
      assert.ok(o.tensors.length >= 8, `matched ${o.tensors.length} initialisers to HF parameters`);
      for (const t of o.tensors) {
        const what = `${e.arch} ${t.hf} (${t.onnx}, ${t.n} values)`;
        if (t.hfInit.ones) assert.ok(t.twin.ones, `${what}: HF initialises it to ones`);
        else if (t.hfInit.zeros) assert.ok(t.twin.zeros, `${what}: HF initialises it to zeros`);
        else if (t.n >= 1000) {
          // Sampling error of a std over n draws is ≈ σ/√(2n) (< 2.3% here): 10% is a class difference.
          assert.ok(Math.abs(t.twin.std - t.hfInit.std) <= 0.1 * t.hfInit.std, `${what}: std ${t.twin.std} vs HF ${t.hfInit.std}`);
          assert.ok(Math.abs(t.twin.mean) <= (6 * t.hfInit.std) / Math.sqrt(t.n) + 1e-7, `${what}: mean ${t.twin.mean}`);
        }
      }
      for (const tie of o.ties) assert.ok(tie.equal, `${e.arch}: ${tie.hf.join(' = ')} tied in HF, but the twin's ${tie.onnx.join(', ')} differ`);
      const again = join(dir, `${e.arch}-b`);
      assert.equal((await runCli(['untrain', e.onnx, '--seed', '3', '-o', again])).code, 0);
      assert.equal(sha(join(again, 'model.onnx')), sha(join(twin, 'model.onnx')), 'same seed, same bytes');
    });
  }
});
