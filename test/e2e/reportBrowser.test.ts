// The HTML report renders in a real headless Chromium (Debian `chromium`, installed by
// infra/install-chromium.sh; driven by playwright-core): a full-page screenshot is taken, every
// figure is present with a non-zero size, its SVG has drawn marks, and the console stays clean.
// Set ENTROSCOPE_KEEP_TEST_OUTPUT=1 to keep the page and the screenshot (their folder is printed).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { samplesToArrow, type SampleRow } from '../../src/arrow/sampleTable.ts';
import type { EvaluationSummary } from '../../src/eval/summary.ts';
import { writeReport } from '../../src/report/report.ts';

const CHROMIUM = process.env.ENTROSCOPE_CHROMIUM ?? '/usr/bin/chromium';

let dir: string;
let browser: Browser;

/** Synthetic results: family "pico" (5 sizes, power law) and "duo" (2 sizes: too few to fit). */
async function writeResults(root: string): Promise<string[]> {
  const models = [
    ['pico-14m', 'pico', 14e6], ['pico-70m', 'pico', 70e6], ['pico-160m', 'pico', 160e6], ['pico-410m', 'pico', 410e6], ['pico-1b', 'pico', 1e9],
    ['duo-small', 'duo', 30e6], ['duo-large', 'duo', 300e6],
  ] as const;
  const layers = ['embeddings', 'block.0', 'block.1', 'last'];
  for (const [i, [name, family, params]] of models.entries()) {
    const perLayer = layers.map((layer, li) => {
      // A little deterministic scatter around the law, so the bootstrap band has a width.
      const erank = (family === 'duo' ? 380 : 400) * Math.pow(params, -0.3) + 12 + 4 * li + 0.08 * Math.sin(7 * i + li);
      const h = Math.log(erank);
      const ci = (v: number) => ({ low: v * 0.97, high: v * 1.03 });
      return {
        layer,
        dim: 64,
        metrics: {
          samplesUsed: 40, samplesSkipped: 0, skipReasons: {},
          meanEntropy: h, meanEntropySE: 0.01, meanEntropyCI95: ci(h),
          erankOfMeanEntropy: erank, erankOfMeanEntropyCI95: ci(erank),
          meanErank: erank * 1.05, meanErankSE: 0.1, meanErankCI95: ci(erank * 1.05),
          meanNormalizedEntropy: h / Math.log(64), meanNormalizedEntropySE: 0.001, meanNormalizedEntropyCI95: ci(h / Math.log(64)),
        },
        pooled: { pooledEntropy: h + 1, pooledErank: Math.exp(h + 1), pooledNormalizedEntropy: (h + 1) / Math.log(64), n: 900 },
        meanLoss: 2 + 30 * Math.pow(params, -0.15),
        gram: '',
        diffErank: { untrainedErankOfMeanEntropy: erank + 6, diffErank: 9 - 50 * Math.pow(params, -0.1), ratio: 0.8, untrainSeed: 0 },
        reducedLoss: 3,
      };
    });
    const summary: EvaluationSummary = {
      model: { name, onnxSha256: String(i).repeat(64), tokenizerSha256: 'ab'.repeat(32), family, params },
      dataset: { name: 'tiny-corpus.jsonl', rows: 40, sha256: 'cd'.repeat(32) },
      layer: layers[0], dim: 64, tokens: 900, truncatedSamples: 0,
      metrics: perLayer[0].metrics, pooled: perLayer[0].pooled, meanLoss: perLayer[0].meanLoss,
      layers: perLayer, configSha256: 'ef'.repeat(32), seed: 0,
      outputs: { prefix: '', summary: '', gram: '', shards: 1 },
      versions: { entroscope: '0.1.0', node: process.version },
    };
    const evalDir = join(root, 'evaluations', name, 'tiny-corpus', 'cfg');
    const shard = join(evalDir, 'shards', '000000000-000000040');
    await mkdir(shard, { recursive: true });
    const rows: SampleRow[] = [];
    perLayer.forEach((l) => {
      for (let r = 0; r < 40; r++) {
        const entropy = Math.log(l.metrics.erankOfMeanEntropy) + 0.3 * Math.sin(r * 1.7 + i);
        rows.push({ row: r, layer: l.layer, tokens: 22, truncated: false, dim: 64, skipped: false, skipReason: null, droppedRows: 0, entropy, normalizedEntropy: entropy / Math.log(64), erank: Math.exp(entropy), renyi2: entropy, nuclearNorm: 8 });
      }
    });
    await writeFile(join(shard, 'samples.arrow'), samplesToArrow(rows));
    await writeFile(join(evalDir, 'summary.json'), JSON.stringify(summary));
  }
  return models.map((m) => m[0]);
}

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: run \`bash infra/install-chromium.sh\` (or npm test, which installs it)`);
  dir = await mkdtemp(join(tmpdir(), 'entroscope-report-browser-'));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  if (process.env.ENTROSCOPE_KEEP_TEST_OUTPUT) process.stderr.write(`kept ${dir}\n`);
  else if (dir) await rm(dir, { recursive: true, force: true });
});

test('the report renders in headless Chromium: screenshot taken, every figure drawn with a size, no console errors', async () => {
  const models = await writeResults(join(dir, 'store'));
  const out = join(dir, 'report');
  const report = await writeReport(join(dir, 'store'), { outDir: out, bootstrapResamples: 50, generatedAt: 'test' });
  assert.ok(report.figures >= 8, `${report.figures} figures`);

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  await page.goto(pathToFileURL(join(out, 'index.html')).href, { waitUntil: 'load' });

  const figures = await page.$$eval('figure', (els) =>
    els.map((el) => {
      const svg = el.querySelector('svg');
      const box = svg?.getBoundingClientRect();
      return {
        id: el.id,
        width: box?.width ?? 0,
        height: box?.height ?? 0,
        marks: svg ? svg.querySelectorAll('circle, polyline, polygon').length : 0,
      };
    }),
  );
  assert.equal(figures.length, report.figures, 'one <figure> per figure');
  for (const f of figures) {
    assert.ok(f.width > 100 && f.height > 100, `${f.id}: ${f.width}×${f.height}`);
    assert.ok(f.marks > 0, `${f.id} draws something`);
  }
  const text = await page.textContent('body');
  for (const m of models) assert.ok(text?.includes(m), `${m} on the page`);
  assert.match(text ?? '', /too few points to fit/);

  const shot = join(dir, 'report.png');
  await page.screenshot({ path: shot, fullPage: true });
  const png = await readFile(shot);
  assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG');
  assert.ok(png.length > 50_000, `screenshot is ${png.length} bytes`);
  const height = png.readUInt32BE(20);
  assert.ok(height > 900, `full page (${height} px tall)`);
  await page.close();
  assert.deepEqual(problems, []);
});
