// A multimodal (LLaVA-style) model folder: where its parts are, and its config.json, validated once
// here so the rest of the code can trust it.
//
//   DIR/vision_encoder.onnx       pixel_values B×3×H×W → last_hidden_state B×(1+P)×dv (CLS first)
//   DIR/projector.onnx            image_features B×P×dv → image_embeds B×P×dl
//   DIR/embed_tokens.onnx         input_ids B×T → inputs_embeds B×T×dl
//   DIR/decoder_model.onnx        inputs_embeds B×T×dl, attention_mask B×T (position_ids optional) → logits
//   DIR/tokenizer.json            Hugging Face tokenizers JSON
//   DIR/preprocessor_config.json  CLIPImageProcessor style (crop_size / size give H×W)
//   DIR/config.json               {"model_type": "llava", "image_token": "<image>",
//                                  "vision_feature_select_strategy": "default" | "full",
//                                  "prompt_template": "USER: <image>\n{text} ASSISTANT:"}
//
// The prompt template places the image: the text before the image token is tokenised with the
// tokenizer's special tokens (BOS), the text after it without, and the P projected image
// embeddings go between the two pieces' token embeddings. `{text}` is the sample's text.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { InputError } from '../errors.ts';
import { preprocessorFromConfig, type ImagePreprocessor } from '../image/preprocess.ts';

/** File names inside a multimodal model folder. */
export const VLM_PART_FILES = {
  visionEncoder: 'vision_encoder.onnx',
  projector: 'projector.onnx',
  embedTokens: 'embed_tokens.onnx',
  decoder: 'decoder_model.onnx',
  tokenizer: 'tokenizer.json',
  preprocessor: 'preprocessor_config.json',
  config: 'config.json',
} as const;

export type VlmPart = keyof typeof VLM_PART_FILES;

/** A local folder holding a vision encoder: evaluated as a vision-language model. */
export function isMultimodalModel(location: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) return false;
  const dir = resolve(location);
  return existsSync(dir) && statSync(dir).isDirectory() && existsSync(join(dir, VLM_PART_FILES.visionEncoder));
}

/** Absolute paths of every part. */
export type VlmPaths = Record<VlmPart, string>;

const TEXT_SLOT = '{text}';

const ConfigSchema = z.object({
  model_type: z.string().min(1).optional(),
  image_token: z.string().min(1).default('<image>'),
  vision_feature_select_strategy: z.enum(['default', 'full']).default('default'),
  prompt_template: z.string().min(1),
});

export interface VlmConfig {
  modelType?: string;
  imageToken: string;
  /** `default` drops the CLS token of the encoder output (as LLaVA does); `full` keeps it. */
  selectStrategy: 'default' | 'full';
  /** The template split at the image token: text before (tokenised with specials) and after (without). */
  promptBefore: string;
  promptAfter: string;
  promptTemplate: string;
  /** preprocessor_config.json, checked (src/image/preprocess.ts): how images become pixel tensors. */
  preprocessor: ImagePreprocessor;
  /** H×W of the pixel tensor the preprocessor produces. */
  imageHeight: number;
  imageWidth: number;
}

function zodMessage(file: string, what: string, err: z.ZodError): InputError {
  const lines = err.issues.map((i) => `  ${i.path.map(String).join('.') || '(top level)'}: ${i.message}`);
  return new InputError(`${file}: invalid ${what}\n${lines.join('\n')}`);
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Every part of the folder; a missing one is an InputError naming it (all missing ones, at once). */
export function locateVlmParts(dir: string): VlmPaths {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new InputError(`multimodal model ${root} is not a folder (expected ${Object.values(VLM_PART_FILES).join(', ')})`);
  }
  const paths = Object.fromEntries(Object.entries(VLM_PART_FILES).map(([k, f]) => [k, join(root, f)])) as VlmPaths;
  const missing = Object.values(paths).filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new InputError(`multimodal model ${root} is missing ${missing.join(', ')} (a LLaVA-style folder holds ${Object.values(VLM_PART_FILES).join(', ')})`);
  }
  return paths;
}

/** The pixel tensor's H×W: the centre crop's, else an exact resize's (a shortest edge alone varies). */
function pixelSize(pre: ImagePreprocessor, file: string): { height: number; width: number } {
  if (pre.crop) return pre.crop;
  if (pre.resize && 'height' in pre.resize) return pre.resize;
  throw new InputError(`${file}: without a centre crop, only size.height/width gives images of one shape; give crop_size or size.height/width`);
}

/** Reads and checks config.json and preprocessor_config.json of a located folder. */
export function readVlmConfig(paths: Pick<VlmPaths, 'config' | 'preprocessor'>): VlmConfig {
  const parsed = ConfigSchema.safeParse(readJson(paths.config));
  if (!parsed.success) throw zodMessage(paths.config, 'multimodal model config', parsed.error);
  const c = parsed.data;
  const pieces = c.prompt_template.split(c.image_token);
  if (pieces.length !== 2) {
    throw new InputError(
      `${paths.config}: prompt_template must contain the image token "${c.image_token}" exactly once, ` +
        `found ${pieces.length - 1} in ${JSON.stringify(c.prompt_template)}`,
    );
  }
  const slots = c.prompt_template.split(TEXT_SLOT).length - 1;
  if (slots !== 1) {
    throw new InputError(`${paths.config}: prompt_template must contain ${TEXT_SLOT} exactly once, found ${slots} in ${JSON.stringify(c.prompt_template)}`);
  }
  const preprocessor = preprocessorFromConfig(readJson(paths.preprocessor), paths.preprocessor);
  const { height, width } = pixelSize(preprocessor, paths.preprocessor);
  return {
    ...(c.model_type ? { modelType: c.model_type } : {}),
    imageToken: c.image_token,
    selectStrategy: c.vision_feature_select_strategy,
    promptBefore: pieces[0],
    promptAfter: pieces[1],
    promptTemplate: c.prompt_template,
    preprocessor,
    imageHeight: height,
    imageWidth: width,
  };
}

/** A template piece with the sample's text put in its `{text}` slot (if the piece has it). */
export function fillTextSlot(piece: string, text: string): string {
  return piece.split(TEXT_SLOT).join(text);
}
