// The HTML report renders in a real headless Chromium (Debian `chromium`, installed by
// infra/install-chromium.sh; driven by playwright-core): a full-page screenshot is taken, every
// figure is present with a non-zero size, its SVG has drawn marks, and the console stays clean.
// Set ENTROSCOPE_KEEP_TEST_OUTPUT=1 to keep the page and the screenshot (their folder is printed).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { writeReport } from '../../src/report/report.ts';
import { syntheticLayer, syntheticRow, writeSyntheticEvaluation } from '../helpers/syntheticResults.ts';

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
      return syntheticLayer(layer, erank, {
        ciWidth: 0.03,
        samples: 40,
        pooledRows: 900,
        loss: 2 + 30 * Math.pow(params, -0.15),
        diff: { untrained: erank + 6, diffErank: 9 - 50 * Math.pow(params, -0.1) },
        reducedLoss: 3,
      });
    });
    const rows = perLayer.flatMap((l) =>
      Array.from({ length: 40 }, (_, r) => syntheticRow(r, l.layer, Math.log(l.metrics.erankOfMeanEntropy!) + 0.3 * Math.sin(r * 1.7 + i), 22, 8)),
    );
    const evalDir = join(root, 'evaluations', name, 'tiny-corpus', 'cfg');
    await writeSyntheticEvaluation(evalDir, { name, family, params, index: i, dataset: 'tiny-corpus.jsonl', rows: 40, tokens: 900, seed: 0, layers: perLayer }, [{ start: 0, rows }]);
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
