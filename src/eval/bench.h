// Speed measurement like llama-bench: prompt processing (pp: n tokens in one
// batch) and text generation (tg: n tokens one at a time), repeated, after
// one warm-up run; from an empty cache, or after `depth` tokens already in
// it (llama-bench's -d: the speed deep into a conversation).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "model/llama.h"

namespace slimlm {

struct BenchResult {
  std::string test;  // "pp512", "tg128", "tg128 @ d2048"
  int threads = 0;
  int64_t n_tokens = 0;
  std::vector<double> tokens_per_second;  // one per repetition
  double mean() const;
  double sd() const;
};

// Memory read bandwidth in GB/s with `threads` threads: the median of
// `passes` reads of a buffer of `bytes` (touched once before), each thread
// streaming its own slices, once as one sequential stream per slice and once
// as four concurrent streams; the faster pattern counts. The limit
// generation speed is measured against.
double measure_read_bandwidth(int threads, int64_t bytes = int64_t{1} << 30, int passes = 5);

// Bytes of weights a generation step reads: every matrix the forward pass
// multiplies with (the layers' and the output's; not token_embd's rows,
// unless it is also the output matrix).
uint64_t weight_bytes_per_token(const LlamaModel& model);

// kind: 'p' (prompt processing) or 'g' (generation). depth > 0: the cache
// holds that many tokens before each timed run (filled once, untimed, in
// batches of n_batch).
Result<BenchResult> run_bench(std::shared_ptr<const LlamaModel> model, char kind, int64_t n_tokens, int threads,
                              int repetitions, int64_t n_batch = 512,
                              kernels::ActQuant act_quant = kernels::ActQuant::kNone, int64_t depth = 0);

}  // namespace slimlm
