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
# memory read bandwidth (slimlm bench --mem-bw, median over the rounds) and
# each engine's share of it: every sample's t/s × weight bytes per token ÷ the
# mean of the two reads around that engine's run in its round (before and
# after slimlm's tg; after slimlm's tg and after llama-bench), median over
# the samples. The models need a vocabulary llama.cpp accepts (slimlm synth
# --vocab ...).
set -euo pipefail
if [[ $# -lt 2 ]]; then
  sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
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
      # slimlm reads the memory before its tests and after its tg; one more
      # read after llama-bench brackets llama.cpp's tg too.
      "$SL" bench -m "$m" -p "$P" -n "$N" -t "$t" -r "$REPS" --json --mem-bw > "$out/sl.$r.json"
      "$LB" -m "$m" -p "$P" -n "$N" -t "$t" -r "$REPS" -o jsonl > "$out/lc.$r.jsonl" 2>/dev/null
      "$SL" bench -m "$m" -p 0 -n 0 -t "$t" --json --mem-bw > "$out/bw.$r.json"
      python3 - "$m" "$t" "$r" "$out/sl.$r.json" "$out/lc.$r.jsonl" "$out/bw.$r.json" >> "$out/samples.tsv" <<'PY'
import json, sys, os
model, t, rnd, sl, lc, bw = sys.argv[1:7]
name = os.path.basename(model)
reads = [row["gbs"] for row in json.load(open(sl)) if row["test"] == "mem_read"]
reads += [row["gbs"] for row in json.load(open(bw)) if row["test"] == "mem_read"]
# reads: before slimlm's tests, after slimlm's tg (when N > 0), after llama-bench
bw_sl = sum(reads[:2]) / len(reads[:2])
bw_lc = sum(reads[-2:]) / len(reads[-2:])
print(f"{name}\t{t}\t{rnd}\tmem\tread\t{sum(reads) / len(reads)}\t0\t0")
for row in json.load(open(sl)):
    if row["test"] == "mem_read":
        continue
    for s in row["samples_tps"]:
        print(f"{name}\t{t}\t{rnd}\t{row['test']}\tslimlm\t{s}\t{row['weight_bytes_per_token']}\t{bw_sl}")
for line in open(lc):
    line = line.strip()
    if not line:
        continue
    row = json.loads(line)
    test = f"pp{row['n_prompt']}" if row["n_prompt"] else f"tg{row['n_gen']}"
    for s in row["samples_ts"]:
        print(f"{name}\t{t}\t{rnd}\t{test}\tllama.cpp\t{s}\t{row['model_size']}\t{bw_lc}")
PY
    done
  done
done

python3 - "$out/samples.tsv" <<'PY'
import sys, statistics
from collections import defaultdict
cells = defaultdict(lambda: defaultdict(list))   # (model, threads, test) -> engine -> t/s samples
shares = defaultdict(lambda: defaultdict(list))  # (model, threads, test) -> engine -> share per sample
bw = defaultdict(list)      # (model, threads) -> GB/s, mean of each round's reads
wbytes = {}                 # model -> weight bytes read per generated token (slimlm's count)
order = []
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
for model, t, rnd, test, engine, val, extra, b in rows:
    if engine == "slimlm":
        wbytes[model] = int(extra)
for model, t, rnd, test, engine, val, extra, b in rows:
    if test == "mem":
        bw[(model, int(t))].append(float(val))
        continue
    key = (model, int(t), test)
    if key not in cells:
        order.append(key)
    cells[key][engine].append(float(val))
    if test.startswith("tg") and float(b) > 0:
        # each sample against the reads that bracket its own run
        shares[key][engine].append(float(val) * wbytes.get(model, 0) / 1e9 / float(b))
med = lambda v: statistics.median(v) if v else float("nan")
print("| model | threads | test | slimlm t/s | llama.cpp t/s | slimlm / llama.cpp | read GB/s | slimlm % of bw | llama.cpp % of bw |")
print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
for key in order:
    s, l = med(cells[key]["slimlm"]), med(cells[key]["llama.cpp"])
    extra = "| | |"
    if key[2].startswith("tg") and bw[(key[0], key[1])]:
        b = med(bw[(key[0], key[1])])
        extra = (f"| {b:.1f} | {100 * med(shares[key]['slimlm']):.0f} | "
                 f"{100 * med(shares[key]['llama.cpp']):.0f} |")
    print(f"| {key[0]} | {key[1]} | {key[2]} | {s:.2f} | {l:.2f} | {s / l:.2f} {extra}")
PY
