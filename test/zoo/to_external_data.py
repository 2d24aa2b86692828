"""Re-saves an ONNX model with external data, as optimum-cli writes models over 2 GB:
model.onnx + model.onnx_data (every initialiser outside the graph).

usage: to_external_data.py SRC_DIR OUT_DIR   (copies the tokenizer/config files beside it)
"""
import shutil
import sys
from pathlib import Path

import onnx

src, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
m = onnx.load(str(src / "model.onnx"))
onnx.save_model(m, str(out / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                location="model.onnx_data", size_threshold=0)
for f in src.iterdir():
    if f.name not in ("model.onnx", "model.onnx_data") and f.is_file():
        shutil.copy(f, out / f.name)
