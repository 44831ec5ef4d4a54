#!/usr/bin/env bash
# THE test command (README and .ci/run call exactly this). From any directory:
#   1. scripts/install_deps.sh (quick when everything is installed)
#   2. Release build in build/ + ctest
#   3. ASan+UBSan Debug build (-O1, no kernel bench) in build-asan/ + ctest
#   4. libFuzzer targets (clang) in build-fuzz/, each run FUZZ_SECONDS on the
#      seeds in tests/fuzz/seeds plus the small shared models
# Any failure stops the run and exits non-zero; a summary with the time of
# each stage is printed at the end either way.
#
# Environment:
#   FUZZ_SECONDS=60       time per fuzz target
#   SLIMLM_SKIP_ASAN=1    skip stage 3 (quick local runs; CI never sets it)
#   SLIMLM_SKIP_FUZZ=1    skip stage 4 (quick local runs; CI never sets it)
#   SLIMLM_SHARED_DIR     shared test models (default: ../shared beside the repo)
#   SLIMLM_BUILD_DIR, SLIMLM_ASAN_BUILD_DIR, SLIMLM_FUZZ_BUILD_DIR
#                         build directories (default: build, build-asan, build-fuzz)
#   JOBS                  parallel build jobs (default: nproc)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
JOBS=${JOBS:-$(nproc)}
BUILD_DIR=${SLIMLM_BUILD_DIR:-build}
ASAN_DIR=${SLIMLM_ASAN_BUILD_DIR:-build-asan}
FUZZ_DIR=${SLIMLM_FUZZ_BUILD_DIR:-build-fuzz}
SHARED=${SLIMLM_SHARED_DIR:-$root/../shared}
CTEST_JOBS=2

# ---- bookkeeping -------------------------------------------------------------
stage_names=()
stage_secs=()
stage_notes=()
current_stage=""
stage_start=0
t_total=$SECONDS
n_passed=0
n_failed=0
n_skipped=0
fuzz_pids=()
corpus_root=""

begin_stage() {
  current_stage=$1
  stage_start=$SECONDS
  echo
  echo "=============================================================================="
  echo "== ${current_stage}    ($(date '+%H:%M:%S'))"
  echo "=============================================================================="
}

end_stage() {  # end_stage NOTE
  local secs=$((SECONDS - stage_start))
  stage_names+=("$current_stage")
  stage_secs+=("$secs")
  stage_notes+=("${1:-ok}")
  echo "-- ${current_stage}: ${1:-ok} in ${secs} s"
  current_stage=""
}

skip_stage() {
  stage_names+=("$1")
  stage_secs+=(0)
  stage_notes+=("skipped ($2)")
}

# Adds the counts of ctest's log to the totals and describes them in $ctest_note.
ctest_log=""
ctest_note=""
count_ctest() {
  local log=$1 line total failed skipped
  ctest_log=""
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" 2>/dev/null | tail -n 1 || true)
  if [ -z "$line" ]; then
    ctest_note="no ctest summary"
    return 0
  fi
  total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
  failed=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
  skipped=$(grep -cE '\((Skipped|Disabled)\)' "$log" || true)
  n_passed=$((n_passed + total - failed - skipped))
  n_failed=$((n_failed + failed))
  n_skipped=$((n_skipped + skipped))
  ctest_note="$total tests, $failed failed, $skipped skipped"
}

finish() {
  local rc=$?
  set +e
  for pid in "${fuzz_pids[@]}"; do kill "$pid" 2>/dev/null; done
  [ -n "$corpus_root" ] && rm -rf "$corpus_root"
  if [ -n "$current_stage" ]; then
    stage_names+=("$current_stage")
    stage_secs+=($((SECONDS - stage_start)))
    if [ -n "$ctest_log" ]; then
      count_ctest "$ctest_log"
      stage_notes+=("FAILED: $ctest_note")
    else
      stage_notes+=("FAILED")
    fi
    # A failed stage with no failed test of its own (a build, a crash) counts as one failure.
    [ "$n_failed" -gt 0 ] || n_failed=1
  fi
  echo
  echo "=============================================================================="
  echo "== summary ($((SECONDS - t_total)) s)"
  echo "=============================================================================="
  local i
  for i in "${!stage_names[@]}"; do
    printf '  %-28s %5s s  %s\n' "${stage_names[$i]}" "${stage_secs[$i]}" "${stage_notes[$i]}"
  done
  if [ "$rc" -ne 0 ] || [ "$n_failed" -gt 0 ]; then
    echo "test.sh: FAILED (exit code $rc)"
    [ "$rc" -ne 0 ] || rc=1
  else
    echo "test.sh: all stages passed"
  fi
  echo "summary: $n_passed passed, $n_failed failed, $n_skipped skipped"
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

# ---- 1. dependencies -----------------------------------------------------------
begin_stage "dependencies"
./scripts/install_deps.sh
end_stage

# ---- 2. Release ----------------------------------------------------------------
begin_stage "release build"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMLM_SANITIZE=OFF -DSLIMLM_FUZZ=OFF
cmake --build "$BUILD_DIR" -j "$JOBS"
end_stage

begin_stage "release tests"
ctest_log="$BUILD_DIR/ctest.log"
ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=error -j "$CTEST_JOBS" --timeout 600 2>&1 \
  | tee "$BUILD_DIR/ctest.log"
count_ctest "$BUILD_DIR/ctest.log"
end_stage "ok: $ctest_note"

# ---- 3. ASan + UBSan -----------------------------------------------------------
if [ "${SLIMLM_SKIP_ASAN:-0}" = 1 ]; then
  skip_stage "asan+ubsan" "SLIMLM_SKIP_ASAN=1"
else
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  begin_stage "asan+ubsan build"
  # Debug (assertions, -g) at -O1: ASan's recommended level, ~10x faster than -O0.
  # No kernel bench here: it only measures, and its script test runs in the
  # Release pass (this stage is the longest of CI: 571 s on 2026-11-23).
  cmake -S . -B "$ASAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" \
    -DSLIMLM_SANITIZE=ON -DSLIMLM_FUZZ=OFF -DSLIMLM_BUILD_BENCH=OFF
  cmake --build "$ASAN_DIR" -j "$JOBS"
  end_stage

  begin_stage "asan+ubsan tests"
  ctest_log="$ASAN_DIR/ctest.log"
  # Tests labelled slow (model-level calibration) run in the Release pass only.
  ctest --test-dir "$ASAN_DIR" --output-on-failure --no-tests=error -j "$CTEST_JOBS" --timeout 900 -LE slow 2>&1 \
    | tee "$ASAN_DIR/ctest.log"
  count_ctest "$ASAN_DIR/ctest.log"
  end_stage "ok: $ctest_note"
  unset ASAN_OPTIONS UBSAN_OPTIONS
fi

# ---- 4. libFuzzer --------------------------------------------------------------
if [ "${SLIMLM_SKIP_FUZZ:-0}" = 1 ]; then
  skip_stage "fuzz" "SLIMLM_SKIP_FUZZ=1"
  exit 0
fi

begin_stage "fuzz build (clang)"
command -v clang++ >/dev/null || { echo "clang++ not found (scripts/install_deps.sh installs it)"; exit 1; }
cmake -S . -B "$FUZZ_DIR" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSLIMLM_FUZZ=ON -DSLIMLM_SANITIZE=OFF
cmake --build "$FUZZ_DIR" -j "$JOBS" --target gguf_fuzz safetensors_fuzz
end_stage

begin_stage "fuzz ${FUZZ_SECONDS} s per target"
if [ "$FUZZ_SECONDS" -gt 0 ]; then
  limit=(-max_total_time="$FUZZ_SECONDS")
else
  limit=(-runs=0)  # FUZZ_SECONDS=0: only replay the seeds
fi
corpus_root=$(mktemp -d "${TMPDIR:-/tmp}/slimlm-fuzz.XXXXXX")
artifacts="$root/$FUZZ_DIR/artifacts"
logs="$root/$FUZZ_DIR/logs"
mkdir -p "$artifacts" "$logs"
# Seeds: the tiny hand-made files in the repo, plus (copied at run time, never
# committed) the small shared models; inputs past -max_len are truncated.
mkdir -p "$corpus_root/gguf" "$corpus_root/safetensors"
cp tests/fuzz/seeds/gguf/* "$corpus_root/gguf/"
cp tests/fuzz/seeds/safetensors/* "$corpus_root/safetensors/"
models="$SHARED/models"
if [ -d "$models" ]; then
  for f in "$models"/stories260K/stories260K.gguf "$models"/tinystories-656k/*.gguf "$models"/vocab/*.gguf; do
    [ -f "$f" ] && cp "$f" "$corpus_root/gguf/"
  done
  for f in "$models"/tinystories-656k/*.safetensors; do
    [ -f "$f" ] && cp "$f" "$corpus_root/safetensors/"
  done
else
  echo "note: no shared models at $models; fuzzing from the repo seeds only"
fi

# Both targets run at once (one core each); each fails on any crash, leak,
# sanitizer report, timeout or out-of-memory.
targets=(gguf safetensors)
for t in "${targets[@]}"; do
  echo "starting ${t}_fuzz: corpus $(find "$corpus_root/$t" -type f | wc -l) files, log $FUZZ_DIR/logs/${t}_fuzz.log"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$FUZZ_DIR/tests/fuzz/${t}_fuzz" "$corpus_root/$t" \
    "${limit[@]}" -max_len=65536 -rss_limit_mb=2048 -timeout=30 \
    -dict="tests/fuzz/$t.dict" -artifact_prefix="$artifacts/${t}_fuzz-" -print_final_stats=1 \
    >"$logs/${t}_fuzz.log" 2>&1 &
  fuzz_pids+=($!)
done
fuzz_failed=()
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  if wait "${fuzz_pids[$i]}"; then rc=0; else rc=$?; fi
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$logs/${t}_fuzz.log" | tail -n 1)
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$logs/${t}_fuzz.log" | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$logs/${t}_fuzz.log" | tail -n 1 || true)
  if [ "$rc" -eq 0 ]; then
    echo "${t}_fuzz: ok, ${runs:-?} runs (${rate:-?}/s), ${cov}"
    n_passed=$((n_passed + 1))
  else
    echo "${t}_fuzz: FAILED (exit code $rc) after ${runs:-?} runs; last lines of its log:"
    tail -n 80 "$logs/${t}_fuzz.log" | sed 's/^/    /'
    fuzz_failed+=("$t")
    n_failed=$((n_failed + 1))
  fi
done
fuzz_pids=()
if [ ${#fuzz_failed[@]} -gt 0 ]; then
  echo
  echo "crash inputs saved in $FUZZ_DIR/artifacts/:"
  find "$artifacts" -type f -newer "$corpus_root" | sed 's/^/    /'
  echo "reproduce with: $FUZZ_DIR/tests/fuzz/<target> <input file>"
  exit 1
fi
end_stage "ok: ${targets[*]} clean"
