// `npm run bench <name> [-- args]`: runs bench/<name>.bench.ts. Benchmarks are measurements, never
// tests: each prints ratios against a baseline measured in the same run (see BENCHMARKS.md).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const here = new URL('.', import.meta.url);
const names = readdirSync(here).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace('.bench.ts', ''));
const [name, ...args] = process.argv.slice(2);
if (!name || !names.includes(name)) {
  process.stderr.write(`usage: npm run bench <${names.join('|')}> [-- args]\n`);
  process.exit(2);
}
const file = new URL(`${name}.bench.ts`, here).pathname;
const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
