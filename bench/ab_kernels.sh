#!/usr/bin/env bash
# A/B of kernel-bench binaries, alternated in the same minutes: each round runs
# every binary once over the benchmarks that match FILTER; prints per
# benchmark and binary the median over the rounds and every sample (GB/s for
# decode and reads, GOP/s or GFLOP/s for prefill). On a VM whose speed moves
# from minute to minute, only alternated runs compare two builds.
#
#   bench/ab_kernels.sh ROUNDS FILTER LABEL=BINARY [LABEL=BINARY ...]
#   e.g. bench/ab_kernels.sh 5 'Decode<DType::Q4_K>/2$' old=/tmp/kb_old new=build/bench/slimlm_kernel_bench
set -euo pipefail
if [[ $# -lt 3 ]]; then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
rounds=$1 filter=$2; shift 2
out=$(mktemp); trap 'rm -f "$out"' EXIT
for r in $(seq "$rounds"); do
  for spec in "$@"; do
    label=${spec%%=*} bin=${spec#*=}
    [[ -x $bin ]] || { echo "error: $bin is not executable" >&2; exit 2; }
    "$bin" --benchmark_filter="$filter" --benchmark_format=json 2>/dev/null |
      python3 -c '
import json, sys
for b in json.load(sys.stdin)["benchmarks"]:
    v = b.get("bytes_per_second") or b.get("GOP/s") or b.get("GFLOP/s")
    if v: print(sys.argv[1], b["name"], v / (1e9 if "bytes_per_second" in b else 1))' "$label" >> "$out"
  done
done
python3 - "$out" <<'PY'
import statistics, sys
from collections import defaultdict
d, names, labels = defaultdict(list), [], []
for line in open(sys.argv[1]):
    label, name, v = line.split()
    if name not in names: names.append(name)
    if label not in labels: labels.append(label)
    d[(name, label)].append(float(v))
for n in names:
    cells = [f"{l}: {statistics.median(d[(n, l)]):.2f} [{' '.join(f'{x:.1f}' for x in d[(n, l)])}]"
             for l in labels if d[(n, l)]]
    print(n, *cells, sep="  |  ")
PY
