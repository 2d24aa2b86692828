"""End-to-end oracle for a multimodal evaluation: from the image files on disk to eRank1-5.

Composes the two independent oracles, sharing nothing with the TypeScript:
  image_oracle.py  PIL decode, the perturbation (numpy), CLIPImageProcessor preprocessing;
  vlm_oracle.py    the four ONNX parts in onnxruntime, the prompt splice, DESIGN §1 in numpy.

Reads JSON on stdin:
  {"dir": model folder, "tensor": LLM tensor of the last layer, "maxTokens": int,
   "rows": [{"image": absolute path, "text": str}], "transform": "none" | "rotate90" | "rotate180" |
   "grayscale" | "noise", "sigma": float, "seed": int (noise: row r uses seed + r)}
Prints vlm_oracle.py's JSON for those rows, in order.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import image_oracle  # noqa: E402


def perturbed(a, transform, sigma, seed):
    if transform == "none":
        return a
    if transform in ("rotate90", "rotate180", "grayscale"):
        return image_oracle.as_array(image_oracle.run({"op": transform, "image": image_oracle.image_out(a)}))
    if transform == "noise":
        return image_oracle.noise(a, sigma, seed)
    raise ValueError(f"unknown transform {transform}")


def main():
    req = json.load(sys.stdin)
    cfg = json.load(open(os.path.join(req["dir"], "preprocessor_config.json")))
    with tempfile.TemporaryDirectory() as tmp:
        samples = []
        for r, row in enumerate(req["rows"]):
            a = np.array(image_oracle.load_rgb(row["image"]))
            a = perturbed(a, req["transform"], req.get("sigma", 25), req.get("seed", 0) + r)
            png = os.path.join(tmp, f"{r}.png")  # lossless: the preprocessing sees exactly `a`
            Image.fromarray(a).save(png)
            p = image_oracle.preprocess(png, cfg)
            npy = os.path.join(tmp, f"{r}.npy")
            np.save(npy, np.asarray(p["pixels"], dtype=np.float32).reshape(p["shape"]))
            samples.append({"pixels": npy, "text": row["text"]})
        vlm_req = {"dir": req["dir"], "tensor": req["tensor"], "maxTokens": req["maxTokens"], "samples": samples}
        out = subprocess.run(
            [sys.executable, os.path.join(here, "vlm_oracle.py")],
            input=json.dumps(vlm_req), capture_output=True, text=True, check=False,
        )
        if out.returncode != 0:
            sys.stderr.write(out.stderr)
            sys.exit(out.returncode)
        sys.stdout.write(out.stdout)


if __name__ == "__main__":
    main()
