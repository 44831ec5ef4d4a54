#!/usr/bin/env bash
# Side-by-side speed: slimlm bench and llama.cpp's llama-bench on the same GGUF
# files, alternated in the same minutes (2-thread memory bandwidth drifts from
# minute to minute on small machines: never compare runs made apart).
#
#   bench/vs_llamacpp.sh PATH_TO_LLAMA_BENCH MODEL.gguf [MODEL.gguf ...]
#   env: SLIMLM (default build/slimlm), THREADS (default "1 2"), P (512), N (128),
#        ROUNDS (alternations, default 3), REPS (repetitions per run, default 2)
#
# llama.cpp is built by whoever runs this, from its public source, outside
# this repository. Per cell the script prints the median over all samples of
# each engine and the ratio slimlm / llama.cpp; for generation also the
# memory read bandwidth measured before and after every slimlm tg run (slimlm
# bench --mem-bw; the median of all reads of the cell) and
# each engine's share of it: t/s × weight bytes per token ÷ bandwidth. The
# models need a vocabulary llama.cpp accepts (slimlm synth --vocab ...).
set -euo pipefail
if [[ $# -lt 2 ]]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
LB=$1; shift
here=$(cd "$(dirname "$0")/.." && pwd)
SL=${SLIMLM:-$here/build/slimlm}
THREADS=${THREADS:-"1 2"}; P=${P:-512}; N=${N:-128}; ROUNDS=${ROUNDS:-3}; REPS=${REPS:-2}
[[ -x $LB ]] || { echo "error: $LB is not an executable llama-bench" >&2; exit 2; }
[[ -x $SL ]] || { echo "error: $SL not found (build slimlm first, or set SLIMLM)" >&2; exit 2; }
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT

for m in "$@"; do
  [[ -f $m ]] || { echo "error: $m: no such file" >&2; exit 2; }
  for t in $THREADS; do
    for r in $(seq "$ROUNDS"); do
      echo "[$(date +%T)] $(basename "$m") -t $t round $r/$ROUNDS" >&2
      "$SL" bench -m "$m" -p "$P" -n "$N" -t "$t" -r "$REPS" --json --mem-bw > "$out/sl.$r.json"
      "$LB" -m "$m" -p "$P" -n "$N" -t "$t" -r "$REPS" -o jsonl > "$out/lc.$r.jsonl" 2>/dev/null
      python3 - "$m" "$t" "$out/sl.$r.json" "$out/lc.$r.jsonl" >> "$out/samples.tsv" <<'PY'
import json, sys, os
model, t, sl, lc = sys.argv[1:5]
name = os.path.basename(model)
for row in json.load(open(sl)):
    if row["test"] == "mem_read":
        print(f"{name}\t{t}\tmem\tread\t{row['gbs']}\t0")
        continue
    for s in row["samples_tps"]:
        print(f"{name}\t{t}\t{row['test']}\tslimlm\t{s}\t{row['weight_bytes_per_token']}")
for line in open(lc):
    line = line.strip()
    if not line:
        continue
    row = json.loads(line)
    test = f"pp{row['n_prompt']}" if row["n_prompt"] else f"tg{row['n_gen']}"
    for s in row["samples_ts"]:
        print(f"{name}\t{t}\t{test}\tllama.cpp\t{s}\t{row['model_size']}")
PY
    done
  done
done

python3 - "$out/samples.tsv" <<'PY'
import sys, statistics
from collections import defaultdict
cells = defaultdict(lambda: defaultdict(list))
bw = defaultdict(list)      # (model, threads) -> GB/s samples, measured between the runs
wbytes = {}                 # model -> weight bytes read per generated token
order = []
for line in open(sys.argv[1]):
    model, t, test, engine, val, extra = line.rstrip("\n").split("\t")
    if test == "mem":
        bw[(model, int(t))].append(float(val))
        continue
    key = (model, int(t), test)
    if key not in cells:
        order.append(key)
    cells[key][engine].append(float(val))
    if engine == "slimlm":
        wbytes[model] = int(extra)
med = lambda v: statistics.median(v) if v else float("nan")
print("| model | threads | test | slimlm t/s | llama.cpp t/s | slimlm / llama.cpp | read GB/s | slimlm % of bw | llama.cpp % of bw |")
print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
for key in order:
    s, l = med(cells[key]["slimlm"]), med(cells[key]["llama.cpp"])
    extra = "| | |"
    b = med(bw[(key[0], key[1])])
    if key[2].startswith("tg") and b == b:
        per = wbytes.get(key[0], 0) / 1e9
        extra = f"| {b:.1f} | {100 * s * per / b:.0f} | {100 * l * per / b:.0f} |"
    print(f"| {key[0]} | {key[1]} | {key[2]} | {s:.2f} | {l:.2f} | {s / l:.2f} {extra}")
PY
