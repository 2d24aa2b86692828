// The tokenizer must not emit ids the model cannot embed: more tokenizer ids than embedding rows is
// a clear InputError naming both files and both sizes; fewer (a padded vocabulary) is fine.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../src/errors.ts';
import { AttributeType, DataType, decodeModel, writeModel } from '../../src/model/onnxProto.ts';
import { TINY_PRESETS, tinyTokenizerJson, writeTinyTransformer } from '../fixtures/tinyTransformer.ts';
import { checkTokenizerMatchesModel, tokenizerIdCount } from '../../src/model/vocabCheck.ts';
import { modelDir } from '../helpers/services.ts';

const dir = mkdtempSync(join(tmpdir(), 'entroscope-vocab-'));

describe('tokenizer / model vocabulary check', () => {
  for (const name of ['causal-d32-l2', 'encoder-d64-l3'] as const) {
    test(`a generated ${name} and its own tokenizer match`, () => {
      const m = writeTinyTransformer(join(dir, name), TINY_PRESETS[name]);
      const r = checkTokenizerMatchesModel(m.tokenizerPath, m.onnxPath);
      assert.deepEqual(r, { tokenizerIds: m.config.vocab, embedding: { initializer: 'wte', rows: m.config.vocab } });
    });
  }

  test('a tokenizer with more ids than embedding rows is an InputError naming both files and sizes', () => {
    const m = writeTinyTransformer(join(dir, 'big-tok'), TINY_PRESETS['encoder-d32-l2']); // vocab 128
    const tok = join(dir, 'big-tok', 'other-tokenizer.json');
    writeFileSync(tok, tinyTokenizerJson('encoder', 300));
    assert.throws(
      () => checkTokenizerMatchesModel(tok, m.onnxPath),
      (err: Error) =>
        err instanceof InputError &&
        err.message.includes(tok) &&
        err.message.includes(m.onnxPath) &&
        err.message.includes('300') &&
        err.message.includes('128'),
    );
  });

  test('a tokenizer with fewer ids than rows (a padded vocabulary) passes', () => {
    const m = writeTinyTransformer(join(dir, 'small-tok'), TINY_PRESETS['causal-d64-l4']); // vocab 256
    const tok = join(dir, 'small-tok', 'small-tokenizer.json');
    writeFileSync(tok, tinyTokenizerJson('causal', 200));
    assert.deepEqual(checkTokenizerMatchesModel(tok, m.onnxPath), { tokenizerIds: 200, embedding: { initializer: 'wte', rows: 256 } });
  });

  test('added tokens count, with the ids the tokenizers library gives them (as at run time)', () => {
    const json = JSON.parse(tinyTokenizerJson('encoder', 128)) as { added_tokens: object[] };
    json.added_tokens.push({ id: 140, content: '[EXTRA]', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    const tok = join(dir, 'added-tokenizer.json');
    writeFileSync(tok, JSON.stringify(json));
    assert.equal(tokenizerIdCount(tok), 129); // `tokenizers` renumbers [EXTRA] to 128 and emits that id
    const m = writeTinyTransformer(join(dir, 'added'), TINY_PRESETS['encoder-d32-l2']);
    assert.throws(() => checkTokenizerMatchesModel(tok, m.onnxPath), /129 token ids .* embeds only 128/);
  });

  test('ids cast before the Gather are followed to the embedding matrix', () => {
    const m = writeTinyTransformer(join(dir, 'cast'), TINY_PRESETS['causal-d32-l2']);
    const model = decodeModel(readFileSync(m.onnxPath), m.onnxPath);
    const gather = model.graph.node.find((n) => n.op_type === 'Gather' && n.input[1] === 'input_ids')!;
    gather.input = [gather.input[0], 'ids_int32'];
    model.graph.node = [
      { op_type: 'Cast', name: 'ids_cast', input: ['input_ids'], output: ['ids_int32'], attribute: [{ name: 'to', type: AttributeType.INT, i: DataType.INT32 }] },
      ...model.graph.node,
    ];
    const path = join(dir, 'cast', 'cast.onnx');
    writeModel(path, model);
    assert.deepEqual(checkTokenizerMatchesModel(m.tokenizerPath, path).embedding, { initializer: 'wte', rows: 128 });
    const tok = join(dir, 'cast', 'big.json');
    writeFileSync(tok, tinyTokenizerJson('causal', 129));
    assert.throws(() => checkTokenizerMatchesModel(tok, path), InputError);
  });

  for (const name of ['all-minilm-l6-v2', 'all-minilm-l6-v2-q']) {
    test(`real ${name} and its tokenizer match (30522 ids, 30522 rows)`, () => {
      const onnx = join(modelDir(name), 'model.onnx');
      const tok = join(modelDir(name), 'tokenizer.json');
      assert.ok(existsSync(onnx) && existsSync(tok), `${name} missing under ${modelDir('')}: run \`npm test\` once to fetch it`);
      const r = checkTokenizerMatchesModel(tok, onnx);
      assert.equal(r.tokenizerIds, 30522);
      assert.equal(r.embedding?.rows, 30522);
      assert.match(r.embedding?.initializer ?? '', /^embeddings\.word_embeddings\.weight/);
    });
  }
});

