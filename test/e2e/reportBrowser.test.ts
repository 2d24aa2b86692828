// The HTML report renders in a real headless Chromium (Debian `chromium`, installed by
// infra/install-chromium.sh; driven by playwright-core) at 1280 px, as a reader sees it: the
// headline (normalized entropy of the last layer vs size, with its sentence) is on the first screen,
// every figure is present with a non-zero size, no fitted curve leaves its metric's physical range
// or its axes, no number runs past 6 significant digits, no axis repeats a tick label, and the
// console stays clean.
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

/**
 * Synthetic results: family "gpt2" as the issue saw it (4 sizes, 0.3M–6M, 2/3/4/6 blocks, every
 * layer, widths 64…192; normalized entropy rising, loss falling, Diff-eRank), family "pico" (5
 * sizes, eRank following a power law) and "duo" (2 sizes: too few to fit).
 */
async function writeResults(root: string): Promise<string[]> {
  const names: string[] = [];
  const gpt2 = [
    ['gpt2-0.3m', 3.1e5, 2, 64], ['gpt2-1m', 1.2e6, 3, 96], ['gpt2-3m', 2.6e6, 4, 128], ['gpt2-6m', 6.0e6, 6, 192],
  ] as const;
  for (const [i, [name, params, blocks, dim]] of gpt2.entries()) {
    const layers = ['embeddings', ...Array.from({ length: blocks }, (_, b) => `block.${b}`), 'final'];
    const loss = 7.5 - 0.35 * Math.log(params) + 0.01 * Math.sin(i);
    const perLayer = layers.map((layer, li) => {
      const depth = li / (layers.length - 1);
      // Normalized entropy of the last layer rising with size; a dip in the middle of the stack.
      const normalized = 0.45 + 0.02 * Math.log(params / 3e5) - 0.1 * Math.sin(Math.PI * depth) + 0.004 * Math.cos(3 * i + li);
      const erank = Math.exp(normalized * Math.log(dim));
      return syntheticLayer(layer, erank, {
        dim, ciWidth: 0.02, samples: 40, pooledRows: 900, loss,
        diff: { untrained: erank + 20, diffErank: 2 + 3 * Math.log(params / 3e5) + 0.2 * Math.sin(i) }, reducedLoss: 1 + 0.3 * Math.log(params / 3e5),
      });
    });
    const rows = perLayer.flatMap((l) =>
      Array.from({ length: 40 }, (_, r) => syntheticRow(r, l.layer, Math.log(l.metrics.erankOfMeanEntropy!) + 0.2 * Math.sin(r * 1.3 + i), 22, 8, dim)),
    );
    const evalDir = join(root, 'evaluations', name, 'tiny-corpus', 'cfg');
    await writeSyntheticEvaluation(evalDir, { name, family: 'gpt2', params, blocks, index: i, dataset: 'tiny-corpus.jsonl', rows: 40, tokens: 900, seed: 0, layers: perLayer }, [{ start: 0, rows }]);
    names.push(name);
  }
  const models = [
    ['pico-14m', 'pico', 14e6], ['pico-70m', 'pico', 70e6], ['pico-160m', 'pico', 160e6], ['pico-410m', 'pico', 410e6], ['pico-1b', 'pico', 1e9],
    ['duo-small', 'duo', 30e6], ['duo-large', 'duo', 300e6],
  ] as const;
  const layers = ['embeddings', 'block.0', 'block.1', 'last'];
  for (const [i, [name, family, params]] of models.entries()) {
    const perLayer = layers.map((layer, li) => {
      // A little deterministic scatter around the law, so the bootstrap band has a width.
      const erank = (family === 'duo' ? 38 : 40) * Math.pow(params, -0.1) + 12 + 4 * li + 0.08 * Math.sin(7 * i + li);
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
    await writeSyntheticEvaluation(evalDir, { name, family, params, blocks: 2, index: 10 + i, dataset: 'tiny-corpus.jsonl', rows: 40, tokens: 900, seed: 0, layers: perLayer }, [{ start: 0, rows }]);
    names.push(name);
  }
  return names;
}

/** Significant digits of a printed number: 0.004512 → 4, 124439808 → 9, 1.5e−7 → 2. */
function significantDigits(token: string): number {
  const mantissa = token.replace(/[eE][−+-]?\d+$/, '').replace(/[^0-9]/g, '').replace(/^0+/, '');
  return mantissa.replace(/0+$/, '').length || 1;
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

test('the report renders in headless Chromium at 1280 px: the headline on the first screen, every figure drawn, no curve outside its physical range, no number past 6 digits', async () => {
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
  await page.screenshot({ path: join(dir, 'first-screen.png') });

  // The first screen (1280×900, not scrolled): the headline's normalized-entropy figure, whole, and the sentences.
  const firstScreen = await page.evaluate(() => {
    const fig = document.querySelector('figure[data-kind="headline"][id*="meannormalizedentropy--last"]');
    const box = fig?.getBoundingClientRect();
    const sentence = document.querySelector('ul.sentences li')?.getBoundingClientRect();
    return { fig: fig?.id ?? null, top: box?.top ?? -1, bottom: box?.bottom ?? 1e9, right: box?.right ?? 1e9, sentenceBottom: sentence?.bottom ?? 1e9, scrollWidth: document.documentElement.scrollWidth };
  });
  assert.ok(firstScreen.fig, 'a headline figure of normalized entropy at the last layer');
  assert.ok(firstScreen.top >= 0 && firstScreen.bottom <= 900 && firstScreen.right <= 1280, `headline figure at ${JSON.stringify(firstScreen)}`);
  assert.ok(firstScreen.sentenceBottom <= 900, 'the headline sentence on the first screen');
  assert.ok(firstScreen.scrollWidth <= 1280, `the page does not scroll sideways (${firstScreen.scrollWidth} px)`);
  const sentences = await page.$$eval('ul.sentences li', (els) => els.map((e) => e.textContent ?? ''));
  assert.ok(sentences.some((t) => /^gpt2 on tiny-corpus\.jsonl: normalized entropy .* rises with size \(n = 4 models, 310k–6M parameters/.test(t)), sentences.join('\n'));

  // Details open, every figure drawn with a size.
  await page.$$eval('details', (els) => els.forEach((e) => ((e as HTMLDetailsElement).open = true)));
  const figures = await page.$$eval('figure', (els) =>
    els.map((el) => {
      const svg = el.querySelector('svg');
      const box = svg?.getBoundingClientRect();
      return { id: el.id, width: box?.width ?? 0, height: box?.height ?? 0, marks: svg ? svg.querySelectorAll('circle, polyline, polygon').length : 0 };
    }),
  );
  assert.equal(figures.length, report.figures, 'one <figure> per figure');
  for (const f of figures) {
    assert.ok(f.width > 100 && f.height > 100, `${f.id}: ${f.width}×${f.height}`);
    assert.ok(f.marks > 0, `${f.id} draws something`);
  }
  // The models and fits tables fit the page: nothing to scroll sideways for (R² included).
  for (const id of ['models-table', 'fits-table']) {
    const w = await page.$eval(`#${id}`, (el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
    assert.ok(w.scroll <= w.client + 1, `${id} scrolls sideways: ${w.scroll} > ${w.client}`);
  }
  // Layers compared at relative depth: one scaling figure per depth position, none per raw block index.
  assert.ok(figures.some((f) => f.id.includes('--depth-1-2')), 'a figure at depth 1/2');
  assert.ok(!figures.some((f) => /--block-\d/.test(f.id)), 'no scaling figure per block index');

  // Every fitted curve stays inside its metric's physical range and inside its panel (nothing clipped).
  const curves = await page.$$eval('svg', (svgs) =>
    svgs.flatMap((svg) => {
      const low = Number(svg.getAttribute('data-range-low') ?? '-Infinity');
      const high = Number(svg.getAttribute('data-range-high') ?? 'Infinity');
      const panel = svg.querySelector('rect[fill="none"]');
      const px = panel ? { x: Number(panel.getAttribute('x')), y: Number(panel.getAttribute('y')), w: Number(panel.getAttribute('width')), h: Number(panel.getAttribute('height')) } : null;
      return [...svg.querySelectorAll('polyline.fit')].map((l) => ({
        id: svg.closest('figure')?.id ?? '',
        low, high,
        min: Number(l.getAttribute('data-y-min')),
        max: Number(l.getAttribute('data-y-max')),
        inPanel: px !== null && (l.getAttribute('points') ?? '').split(' ').every((p) => {
          const [x, y] = p.split(',').map(Number);
          return x >= px.x - 0.5 && x <= px.x + px.w + 0.5 && y >= px.y - 0.5 && y <= px.y + px.h + 0.5;
        }),
      }));
    }),
  );
  assert.ok(curves.length >= 3, `${curves.length} fitted curves drawn`);
  for (const c of curves) {
    assert.ok(c.min >= c.low && c.max <= c.high, `${c.id}: curve ${c.min}…${c.max} outside [${c.low}, ${c.high}]`);
    assert.ok(c.inPanel, `${c.id}: curve drawn outside its axes`);
  }

  // No number printed beyond 6 significant digits (hashes and paths are text, not numbers).
  const texts = await page.$$eval('svg text, td:not(.hash):not(.text), ul.sentences li, figcaption', (els) => els.map((e) => e.textContent ?? ''));
  const long = texts.flatMap((t) => t.match(/\d+(?:\.\d+)?(?:e[−+-]?\d+)?/g) ?? []).filter((n) => significantDigits(n) > 6);
  assert.deepEqual(long, [], 'numbers with more than 6 significant digits');
  assert.ok(!texts.some((t) => /x\^\(?[−-][−-]/.test(t)), 'no double minus in an exponent');
  // Tick labels of one axis are never repeated.
  const ticks = await page.$$eval('svg', (svgs) => svgs.map((svg) => [...svg.querySelectorAll('text[text-anchor="end"]')].map((t) => t.textContent)));
  for (const axis of ticks) assert.equal(new Set(axis).size, axis.length, `duplicate tick labels ${axis.join(', ')}`);

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
