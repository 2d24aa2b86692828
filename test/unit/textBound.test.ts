// Texts are truncated while tokenising: the tokenizer is given a bounded prefix of a long text, and
// the ids and the truncation flag are still exactly what tokenising the whole text and truncating
// gives (Hugging Face `tokenizers` on the whole text is the reference), for the real
// all-MiniLM-L6-v2 WordPiece tokenizer, pathological one-word texts included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from 'tokenizers';
import { TextTokenizer } from '../../src/model/tokenizer.ts';
import { boundText, CHARS_PER_TOKEN, tokenizeBounded } from '../../src/data/textBound.ts';
import { modelDir } from '../helpers/services.ts';

const tokenizerPath = join(modelDir('all-minilm-l6-v2'), 'tokenizer.json');
const brown = readFileSync(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((l) => (JSON.parse(l) as { text: string }).text);

/** The reference: the whole text tokenised, then truncated to maxTokens (special tokens included). */
async function whole(texts: string[], maxTokens: number): Promise<{ ids: number[][]; truncated: boolean[] }> {
  const t = Tokenizer.fromFile(tokenizerPath);
  t.disablePadding();
  t.setTruncation(maxTokens);
  const e = await t.encodeBatch(texts);
  return { ids: e.map((x) => x.getIds()), truncated: e.map((x) => x.getOverflowing().length > 0) };
}

/** tokenizeBounded over entroscope's tokenizer, recording every text the tokenizer was given. */
async function bounded(texts: string[], maxTokens: number) {
  const tokenizer = TextTokenizer.load(tokenizerPath, maxTokens);
  const given: string[][] = [];
  const out = await tokenizeBounded(
    texts,
    maxTokens,
    async (ts) => {
      given.push(ts);
      const r = await tokenizer.encode(ts);
      return r.ids.map((ids, i) => ({ ids, truncated: r.truncated[i] }));
    },
    (r) => r.truncated,
  );
  return { ids: out.map((o) => o.ids), truncated: out.map((o) => o.truncated), given };
}

test('a long text is tokenised from a bounded prefix, with the whole text\'s ids and truncation', async () => {
  const long = brown.join(' ').repeat(20); // ~1.2 MB
  const texts = [long, brown[0], `${brown[1]} ${brown[2]}`, '🙂 é漢字 '.repeat(5000) + 'end'];
  for (const maxTokens of [8, 64, 256]) {
    const got = await bounded(texts, maxTokens);
    assert.deepEqual({ ids: got.ids, truncated: got.truncated }, await whole(texts, maxTokens), `maxTokens ${maxTokens}`);
    assert.equal(got.given.length, 1, 'real text needs one pass');
    for (const t of got.given[0]) assert.ok(t.length <= CHARS_PER_TOKEN * maxTokens, `the tokenizer was given ${t.length} characters`);
    assert.equal(got.given[0][1], brown[0], 'a short text is given whole');
  }
});

test('a text whose words outlast the bound (one giant word is one [UNK]) is tokenised again with a larger bound', async () => {
  const texts = ['a'.repeat(20_000) + ' the cat sat on the mat', 'b'.repeat(300) + ' ' + 'c'.repeat(300) + ' end of it all'];
  const got = await bounded(texts, 6);
  assert.deepEqual({ ids: got.ids, truncated: got.truncated }, await whole(texts, 6));
  assert.ok(got.given.length > 1, 'passes with growing bounds');
  assert.ok(got.given.flat().includes(texts[0]), 'the giant word is finally given whole: only then are its tokens known');
});

test('the cut is at whitespace and never splits a surrogate pair', () => {
  assert.equal(boundText('hello world again', 13), 'hello world');
  assert.equal(boundText('short', 13), 'short');
  const emoji = '🙂'.repeat(10); // 20 UTF-16 units
  const cut = boundText(emoji, 7);
  assert.equal(cut, '🙂'.repeat(3));
  assert.ok(!/[\uD800-\uDBFF]$/.test(cut));
});
