// `npm run build` (and `npm install`'s prepare): compiles the CLI, workers, activities, workflows
// and core library to plain JavaScript with tsc (tsconfig.build.json; `rewriteRelativeImportExtensions`
// turns the sources' `./x.ts` imports into `./x.js`), copies the files the code loads by path beside
// itself (bin/builtCli.js ASSET_EXTENSIONS), and writes the build stamp last, dated when the build
// began, so bin/entroscope.js runs dist/ only while no source is newer. The new tree is built aside
// and swapped in: a failed build leaves the previous dist/ as it was.
//
// Usage: node infra/build.mjs [--out-dir DIR] [--if-stale]   (default dist; DIR must be inside the
// package, where node_modules and package.json resolve; --if-stale: nothing to do when DIR is a
// finished build no source is newer than, as bin/entroscope.js judges it)
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ASSET_EXTENSIONS, SOURCE_DIRS, STAMP, staleness } from '../bin/builtCli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { 'out-dir': { type: 'string', default: 'dist' }, 'if-stale': { type: 'boolean', default: false } } });
const out = resolve(root, values['out-dir']);
const inside = relative(root, out);
if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
  console.error(`entroscope build: --out-dir ${out} must be a folder inside ${root} (node_modules and package.json resolve from there)`);
  process.exit(2);
}
if (values['if-stale'] && staleness(root, out) === undefined) {
  console.error(`entroscope build: ${relative(root, out)}/ is up to date`);
  process.exit(0);
}
const started = new Date();
const tmp = `${out}.tmp-${process.pid}`;
rmSync(tmp, { recursive: true, force: true });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', tmp], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  rmSync(tmp, { recursive: true, force: true });
  console.error(`entroscope build: tsc failed (exit ${r.status ?? r.signal}); ${relative(root, out)}/ is left as it was`);
  process.exit(r.status || 1);
}
let assets = 0;
for (const dir of SOURCE_DIRS) {
  for (const entry of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })) {
    if (!ASSET_EXTENSIONS.includes(extname(entry))) continue;
    mkdirSync(dirname(join(tmp, dir, entry)), { recursive: true });
    copyFileSync(join(root, dir, entry), join(tmp, dir, entry));
    assets++;
  }
}
const stamp = join(tmp, STAMP);
writeFileSync(stamp, `${JSON.stringify({ startedAt: started.toISOString(), node: process.version })}\n`);
utimesSync(stamp, started, started);

const old = `${out}.old-${process.pid}`;
if (existsSync(out)) renameSync(out, old);
renameSync(tmp, out);
rmSync(old, { recursive: true, force: true });
console.error(`entroscope build: ${relative(root, out)}/ (${assets} assets copied) in ${((Date.now() - started.getTime()) / 1000).toFixed(1)} s`);
