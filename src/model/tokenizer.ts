// Tokenisation with Hugging Face `tokenizers` (the Rust library's Node binding) from a
// tokenizer.json. Special tokens (BOS/EOS, [CLS]/[SEP]) come from the tokenizer's own
// post-processor. We pad ourselves per batch, so the file's fixed padding is switched off.
import { Tokenizer } from 'tokenizers';
import { InputError } from '../errors.ts';

export interface Tokenized {
  /** Token ids per text, special tokens included, truncated to maxTokens. */
  ids: number[][];
  /** Whether each text was cut at maxTokens. */
  truncated: boolean[];
}

export class TextTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly maxTokens: number,
  ) {}

  static load(path: string, maxTokens: number): TextTokenizer {
    let tokenizer: Tokenizer;
    try {
      tokenizer = Tokenizer.fromFile(path);
    } catch (err) {
      throw new InputError(`cannot read tokenizer ${path}: ${(err as Error).message}`);
    }
    tokenizer.disablePadding();
    tokenizer.setTruncation(maxTokens);
    return new TextTokenizer(tokenizer, maxTokens);
  }

  async encode(texts: string[]): Promise<Tokenized> {
    const encodings = await this.tokenizer.encodeBatch(texts);
    return {
      ids: encodings.map((e) => e.getIds()),
      truncated: encodings.map((e) => e.getOverflowing().length > 0),
    };
  }
}
