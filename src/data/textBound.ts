// Texts are truncated while tokenising, not after: a tokenizer given a 10 MB text tokenises all of
// it and only then keeps `maxTokens`. So a text is first cut to `CHARS_PER_TOKEN · maxTokens`
// characters — at the last whitespace before that bound, so every word before the cut is whole
// and pre-tokenises (BERT's whitespace/punctuation split, GPT-2's byte-level regex, SentencePiece's
// ▁ split) exactly as in the whole text. When the cut text still yields more than `maxTokens`
// tokens, its first `maxTokens` are the whole text's. When it yields fewer (words averaging more
// than CHARS_PER_TOKEN characters per token: one 10,000-character "word" is one [UNK]), the bound
// grows fourfold and the text is tokenised again, up to the whole text: the result is always the
// whole text's tokenisation, truncated, at a cost bounded by the tokens kept.

/** Characters of text given to the tokenizer per token kept (far above any real text's mean). */
export const CHARS_PER_TOKEN = 32;

/** The first at most `maxChars` UTF-16 units of `text`, cut at whitespace when there is some in the last half. */
export function boundText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let end = maxChars;
  // Never split a surrogate pair.
  if (end > 0 && /[\uD800-\uDBFF]/.test(text[end - 1])) end--;
  for (let i = end; i > end / 2; i--) {
    if (/\s/.test(text[i])) return text.slice(0, i);
  }
  return text.slice(0, end);
}

/**
 * Tokenises each text as `encode` would tokenise it whole, giving it at most the bounded prefix
 * (see the file comment). `overflows(r)` says whether a result holds more tokens than are kept.
 */
export async function tokenizeBounded<R>(
  texts: readonly string[],
  maxTokens: number,
  encode: (texts: string[]) => Promise<R[]>,
  overflows: (result: R) => boolean,
): Promise<R[]> {
  let maxChars = CHARS_PER_TOKEN * maxTokens;
  let given = texts.map((t) => boundText(t, maxChars));
  const out = await encode(given);
  for (;;) {
    // Cut, and not over the limit: the cut may have dropped tokens that would have been kept.
    const again = texts.flatMap((t, i) => (given[i].length < t.length && !overflows(out[i]) ? [i] : []));
    if (again.length === 0) return out;
    maxChars *= 4;
    given = given.map((g, i) => (again.includes(i) ? boundText(texts[i], maxChars) : g));
    const redone = await encode(again.map((i) => given[i]));
    again.forEach((i, k) => (out[i] = redone[k]));
  }
}
