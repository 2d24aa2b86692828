"""Oracle for test/unit/images.test.ts: image decoding, perturbations and CLIPImageProcessor
preprocessing, written independently of the TypeScript with PIL (Pillow) and numpy.

Reads one JSON object on stdin: {"cases": [case, ...]}; writes {"results": [result, ...]}.
A case is one of
  {"op": "decode", "path": P}
      -> {"width", "height", "data": HWC uint8 list}
      PIL.Image.open, ImageOps.exif_transpose, convert("RGB"): what transformers.image_utils.load_image does.
  {"op": "preprocess", "path": P, "config": preprocessor_config dict}
      -> {"shape": [3, h, w], "pixels": CHW float32 list, "resized": HWC uint8 list after resize+crop}
      Transcribes HF CLIPImageProcessor.preprocess (slow, PIL path): resize (PIL Image.resize,
      reducing_gap=None), center_crop (zero pad when too small), rescale (float64 * factor -> float32),
      normalize ((x - mean) / std in float32), channels first.
  {"op": "rotate90" | "rotate180" | "grayscale", "image": {"width", "height", "data"}}
  {"op": "noise", "image": {...}, "sigma": s, "seed": n}
      -> {"width", "height", "data"}
"""
import json
import math
import sys

import numpy as np
from PIL import Image, ImageOps

OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def load_rgb(path):
    img = Image.open(path)
    img = ImageOps.exif_transpose(img)
    return img.convert("RGB")


def as_array(image):
    return np.array(image["data"], dtype=np.uint8).reshape(image["height"], image["width"], 3)


def image_out(a):
    return {"width": int(a.shape[1]), "height": int(a.shape[0]), "data": a.reshape(-1).tolist()}


def resize_output_size(width, height, cfg):
    size = cfg.get("size", {"shortest_edge": 224})
    if isinstance(size, int):
        size = {"shortest_edge": size}
    if "shortest_edge" in size:
        # get_resize_output_image_size(default_to_square=False)
        short, long = (width, height) if width <= height else (height, width)
        new_short, new_long = size["shortest_edge"], int(size["shortest_edge"] * long / short)
        return (new_short, new_long) if width <= height else (new_long, new_short)
    return size["width"], size["height"]


def center_crop(a, crop_h, crop_w):
    h, w = a.shape[:2]
    top = (h - crop_h) // 2
    left = (w - crop_w) // 2
    if top >= 0 and left >= 0 and top + crop_h <= h and left + crop_w <= w:
        return a[top : top + crop_h, left : left + crop_w]
    nh, nw = max(crop_h, h), max(crop_w, w)
    padded = np.zeros((nh, nw, 3), dtype=a.dtype)
    tp, lp = math.ceil((nh - h) / 2), math.ceil((nw - w) / 2)
    padded[tp : tp + h, lp : lp + w] = a
    top, left = top + tp, left + lp
    return padded[max(0, top) : min(nh, top + crop_h), max(0, left) : min(nw, left + crop_w)]


def preprocess(path, cfg):
    img = load_rgb(path)
    if cfg.get("do_resize", True):
        size = resize_output_size(img.width, img.height, cfg)
        if size != img.size:  # PIL returns a copy for an unchanged size
            img = img.resize(size, resample=cfg.get("resample", 3), reducing_gap=None)
    a = np.array(img)
    if cfg.get("do_center_crop", True):
        crop = cfg.get("crop_size", 224)
        if isinstance(crop, int):
            crop = {"height": crop, "width": crop}
        a = center_crop(a, crop["height"], crop["width"])
    resized = a
    x = a
    if cfg.get("do_rescale", True):
        x = (x.astype(np.float64) * cfg.get("rescale_factor", 1 / 255)).astype(np.float32)
    if cfg.get("do_normalize", True):
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float32)
        mean = np.array(cfg.get("image_mean", OPENAI_CLIP_MEAN), dtype=x.dtype)
        std = np.array(cfg.get("image_std", OPENAI_CLIP_STD), dtype=x.dtype)
        x = (x - mean) / std
    x = np.ascontiguousarray(x.astype(np.float32).transpose(2, 0, 1))
    return {"shape": list(x.shape), "pixels": x.reshape(-1).tolist(), "resized": resized.reshape(-1).tolist()}


def mulberry32(seed):
    """The PRNG of src/metrics/prng.ts, in 32-bit integer arithmetic."""
    a = seed & 0xFFFFFFFF

    def imul(x, y):
        return (x * y) & 0xFFFFFFFF

    def nxt():
        nonlocal a
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = a
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    return nxt


def noise(a, sigma, seed):
    rnd = mulberry32(seed)
    flat = a.reshape(-1).astype(np.float64)
    z = np.empty(flat.size)
    for k in range(0, flat.size, 2):
        r = math.sqrt(-2 * math.log(1 - rnd()))
        theta = 2 * math.pi * rnd()
        z[k] = r * math.cos(theta)
        if k + 1 < flat.size:
            z[k + 1] = r * math.sin(theta)
    out = np.clip(np.floor(flat + sigma * z + 0.5), 0, 255).astype(np.uint8)
    return out.reshape(a.shape)


def run(case):
    op = case["op"]
    if op == "decode":
        return image_out(np.array(load_rgb(case["path"])))
    if op == "preprocess":
        return preprocess(case["path"], case["config"])
    a = as_array(case["image"])
    if op == "rotate90":
        return image_out(np.rot90(a, k=-1))
    if op == "rotate180":
        return image_out(np.rot90(a, k=2))
    if op == "grayscale":
        f = a.astype(np.float64)
        y = np.floor(0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2] + 0.5).astype(np.uint8)
        return image_out(np.repeat(y[..., None], 3, axis=2))
    if op == "noise":
        return image_out(noise(a, case["sigma"], case["seed"]))
    raise ValueError(f"unknown op {op}")


def main():
    cases = json.load(sys.stdin)["cases"]
    json.dump({"results": [run(c) for c in cases]}, sys.stdout)


if __name__ == "__main__":
    main()
