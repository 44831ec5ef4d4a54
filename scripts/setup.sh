#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install the dependencies (Debian
# packages only), build slimlm in Release, then convert and inspect a model,
# run it, and measure its perplexity and the KL-divergence of its Q8_0 version.
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
echo
echo "== run: greedy continuation of stories260K"
"$bin" run -m "$OUT/stories260K.gguf" -p "Once upon a time" -n 60 --temp 0
echo
echo "== evaluate: perplexity of TinyStories-656K (F32) on 200 KB of TinyStories, then KL-divergence of its Q8_0"
head -c 200000 "$SHARED/data/tinystories_valid_head.txt" > "$OUT/eval.txt"
"$bin" convert "$models/tinystories-656k" --type f32 -o "$OUT/tinystories-656k-f32.gguf" -q
"$bin" perplexity -m "$OUT/tinystories-656k-f32.gguf" -f "$OUT/eval.txt" -c 256 --kl-divergence-base "$OUT/base.kld"
"$bin" perplexity -m "$OUT/tinystories-656k-q8_0.gguf" --kl-divergence-base "$OUT/base.kld" --kl-divergence
