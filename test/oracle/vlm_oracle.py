"""Independent oracle for multimodal alignment (DESIGN §1.9): onnx + onnxruntime + numpy + tokenizers.

Nothing is shared with the TS code: the prompt is split and the image spliced here from config.json,
the text is tokenised with the `tokenizers` Python package, every part runs one sample at a time
(batch 1, no padding, every piece embedded on its own), the LLM layer is exposed as a graph output
with onnx's own helpers, and DESIGN §1 steps 1-4 are computed in float64 numpy.

Reads JSON on stdin:
  {"dir": model folder, "tensor": LLM tensor holding the layer (e.g. the final norm's output),
   "maxTokens": int, "samples": [{"pixels": path to a 3xHxW float32 .npy, "text": str}, ...]}
Prints JSON:
  {"perSample": [{"eRank1".."eRank5": float | null, "imageReductionRatio", "imageTextAlignment",
                  "tokens": {"prefix", "image", "suffix", "textAlone"}, "textTokens", "truncated"}],
   "dataset": {"samplesUsed", "meanErank": {"eRank1"..}, "imageReductionRatio", "imageTextAlignment",
               "meanSampleImageReductionRatio", "meanSampleImageTextAlignment"}}
"""
import json
import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from tokenizers import Tokenizer

PARTS = ["eRank1", "eRank2", "eRank3", "eRank4", "eRank5"]


def erank(x):
    """exp of the von Neumann entropy of Z^T Z / N (DESIGN §1 steps 1-4); None when < 2 rows are left."""
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    if n == 0:
        return None
    xc = x - x.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(xc, axis=1)
    top = norms.max()
    keep = norms > 1e-12 * top if top > 0 else np.zeros(n, dtype=bool)
    z = xc[keep] / norms[keep][:, None]
    k = z.shape[0]
    if k < 2:
        return None
    gram = (z @ z.T) / k if k <= d else (z.T @ z) / k
    lam = np.clip(np.linalg.eigvalsh(gram), 0.0, None)
    p = lam / lam.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def main():
    req = json.load(sys.stdin)
    d = req["dir"]
    cfg = json.load(open(os.path.join(d, "config.json")))
    image_token = cfg.get("image_token", "<image>")
    before, after = cfg["prompt_template"].split(image_token)
    drop_cls = cfg.get("vision_feature_select_strategy", "default") == "default"
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()

    vision = session(os.path.join(d, "vision_encoder.onnx"))
    projector = session(os.path.join(d, "projector.onnx"))
    embed = session(os.path.join(d, "embed_tokens.onnx"))
    dec_model = onnx.load(os.path.join(d, "decoder_model.onnx"))
    dec_model.graph.output.append(onnx.helper.make_tensor_value_info(req["tensor"], onnx.TensorProto.FLOAT, None))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "decoder_tapped.onnx")
        onnx.save(dec_model, path)
        decoder = session(path)
    dec_inputs = [i.name for i in decoder.get_inputs()]
    dl = embed.get_outputs()[0].shape[-1]

    def embed_ids(ids):
        if len(ids) == 0:
            return np.zeros((0, dl), dtype=np.float32)
        return embed.run(["inputs_embeds"], {"input_ids": np.asarray([ids], dtype=np.int64)})[0][0]

    def llm(x):
        n = x.shape[0]
        feeds = {"inputs_embeds": x[None, :, :].astype(np.float32)}
        if "attention_mask" in dec_inputs:
            feeds["attention_mask"] = np.ones((1, n), dtype=np.int64)
        if "position_ids" in dec_inputs:
            feeds["position_ids"] = np.arange(n, dtype=np.int64)[None, :]
        return decoder.run([req["tensor"]], feeds)[0][0]

    max_tokens = req["maxTokens"]
    per_sample = []
    for s in req["samples"]:
        pixels = np.load(s["pixels"]).astype(np.float32)[None]  # 1x3xHxW
        feats = vision.run(["last_hidden_state"], {"pixel_values": pixels})[0][0]
        if drop_cls:
            feats = feats[1:]
        proj = projector.run(["image_embeds"], {"image_features": feats[None]})[0][0]

        text = s["text"]
        own = tok.encode(text, add_special_tokens=False)
        truncated = len(own.ids) > max_tokens
        if truncated:
            text = text[: own.offsets[max_tokens - 1][1]]  # offsets count code points, as str indexing does
        prefix = tok.encode(before.replace("{text}", text), add_special_tokens=True).ids
        suffix = tok.encode(after.replace("{text}", text), add_special_tokens=False).ids
        alone = tok.encode(text, add_special_tokens=True).ids

        joint = llm(np.concatenate([embed_ids(prefix), proj, embed_ids(suffix)], axis=0))
        text_h = llm(embed_ids(alone)) if alone else np.zeros((0, dl), dtype=np.float32)
        P = proj.shape[0]
        e = {
            "eRank1": erank(feats),
            "eRank2": erank(proj),
            "eRank3": erank(joint[len(prefix) : len(prefix) + P]),
            "eRank4": erank(text_h),
            "eRank5": erank(joint),
        }
        row = dict(e)
        row["imageReductionRatio"] = (e["eRank1"] - e["eRank2"]) / e["eRank1"] if e["eRank1"] and e["eRank2"] else None
        three = [e["eRank3"], e["eRank4"], e["eRank5"]]
        row["imageTextAlignment"] = float(np.mean(three) / np.max(three)) if all(v is not None for v in three) else None
        row["tokens"] = {"prefix": len(prefix), "image": P, "suffix": len(suffix), "textAlone": len(alone)}
        row["textTokens"] = min(len(own.ids), max_tokens)
        row["truncated"] = truncated
        per_sample.append(row)

    used = [r for r in per_sample if all(r[k] is not None for k in PARTS)]
    means = {k: float(np.mean([r[k] for r in used])) for k in PARTS} if used else None
    dataset = {"samplesUsed": len(used)}
    if means:
        dataset["meanErank"] = means
        dataset["imageReductionRatio"] = (means["eRank1"] - means["eRank2"]) / means["eRank1"]
        m3 = [means["eRank3"], means["eRank4"], means["eRank5"]]
        dataset["imageTextAlignment"] = float(np.mean(m3) / np.max(m3))
        dataset["meanSampleImageReductionRatio"] = float(np.mean([r["imageReductionRatio"] for r in used]))
        dataset["meanSampleImageTextAlignment"] = float(np.mean([r["imageTextAlignment"] for r in used]))
    json.dump({"perSample": per_sample, "dataset": dataset}, sys.stdout)


if __name__ == "__main__":
    main()
