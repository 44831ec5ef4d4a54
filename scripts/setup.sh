#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install the dependencies (Debian
# packages only), build slimlm in Release, then convert and inspect a model.
#   SHARED=/path/to/shared  where the test models live (default: ../shared beside the repo)
#   OUT=/path/to/dir        where converted models go (default: ./out)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
SHARED=${SHARED:-$root/../shared}
OUT=${OUT:-$root/out}

./scripts/install_deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"

bin=$root/build/slimlm
models=$SHARED/models
if [ ! -d "$models" ]; then
  echo "built $bin; no models found at $models (set SHARED=...) — nothing to convert"
  exit 0
fi
mkdir -p "$OUT"
echo
echo "== convert: llama2.c stories260K -> GGUF (F32), then Hugging Face TinyStories-656K -> GGUF (Q8_0)"
"$bin" convert "$models/stories260K/stories260K.bin" --tokenizer "$models/stories260K/tok512.bin" \
  -o "$OUT/stories260K.gguf" -q
"$bin" convert "$models/tinystories-656k" --type q8_0 -o "$OUT/tinystories-656k-q8_0.gguf" -q
echo
echo "== inspect"
"$bin" inspect "$OUT/stories260K.gguf"
echo
"$bin" inspect "$OUT/tinystories-656k-q8_0.gguf"
