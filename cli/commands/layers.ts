// `entroscope layers MODEL`: the hidden-state taps a model offers (embedding output, each block's
// output, final norm, last) with their Hugging Face hidden_states index, found from its ONNX graph
// (src/model/onnxTaps.ts).
//
//   entroscope layers MODEL                  a table: name, tensor, shape
//   entroscope layers MODEL --layers 0,3,last  only those (an unknown name lists the valid ones)
//   entroscope layers MODEL --json
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../../src/errors.ts';
import { resolveModelFiles } from '../../src/model/modelRef.ts';
import { defaults } from '../defaults.ts';
import { formatTable } from '../format.ts';

interface LayersOptions {
  layers?: string;
  json?: boolean;
}

/**
 * A folder (its .onnx; for a vision-language model folder, its LLM) or an .onnx file; no tokenizer
 * needed to read the graph.
 */
export async function onnxFileOf(location: string): Promise<string> {
  // Loaded here, not at the top: `entroscope --help` should not load the graph reader.
  const { isMultimodalModel, VLM_PART_FILES } = await import('../../src/multimodal/vlmConfig.ts');
  const path = resolve(location);
  if (isMultimodalModel(path)) return join(path, VLM_PART_FILES.decoder);
  if (existsSync(path) && statSync(path).isFile()) {
    if (!path.endsWith('.onnx')) throw new InputError(`model file is not an .onnx file: ${path}`);
    return path;
  }
  return resolveModelFiles(path).onnxPath;
}

export function registerLayers(program: Command): void {
  program
    .command('layers')
    .description('list the hidden-state layers (taps) a model offers: embeddings, block.i, final, last')
    .argument('<model>', 'model folder (model.onnx + tokenizer.json) or .onnx file')
    .option('--layers <list>', 'only these: names, hidden_states indices (0 = embeddings), or all')
    .option('--json', 'print one JSON object')
    .action(async (model: string, opts: LayersOptions) => {
      const { modelTaps, resolveLayers } = await import('../../src/model/onnxTaps.ts');
      const onnxPath = await onnxFileOf(model);
      const { taps } = await modelTaps(onnxPath, { cacheDir: defaults.cacheDir() });
      const shown = opts.layers ? resolveLayers(taps, [opts.layers], onnxPath) : taps.taps;
      if (opts.json) {
        const out = {
          model: onnxPath,
          layout: taps.layout,
          blocks: taps.blocks,
          ...(taps.logits ? { logits: taps.logits } : {}),
          ...(taps.diagnosis ? { diagnosis: taps.diagnosis } : {}),
          layers: shown.map((t) => ({ name: t.name, hfIndex: t.hfIndex ?? null, tensor: t.tensor, shape: t.shape })),
        };
        process.stdout.write(JSON.stringify(out, null, 2) + '\n');
        return;
      }
      process.stdout.write(
        `${onnxPath}: ${taps.blocks} blocks, ${taps.layout}${taps.logits ? `, logits output ${taps.logits}` : ''}\n` +
          (taps.diagnosis ? `no layers found: ${taps.diagnosis}; name tensors with --layers tensor:NAME\n` : '') +
          formatTable(
            ['layer', 'hf index', 'tensor', 'shape'],
            shown.map((t) => [t.name, t.hfIndex === undefined ? '' : String(t.hfIndex), t.tensor, `[${t.shape.join(', ')}]`]),
          ),
      );
    });
}
