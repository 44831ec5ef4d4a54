// `slimlm compare`: for each (type or mix) × method, quantize the model, then
// measure it against the original on the same text — perplexity, mean
// KL-divergence and top-token agreement — plus file size, bits per weight and
// generation speed. The base model's log-probabilities are computed once.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"
#include "eval/compare_report.h"
#include "model/quantize_model.h"

namespace slimlm {

struct CompareSpec {
  std::string name;  // as the user wrote it: "q4_k_m", "int4g64", "nf4"
  QuantRecipe recipe;
  QuantMethod method = QuantMethod::kRtn;
};

// The cross product of type/mix names and method names ("int4" + group -> int4g64).
// hqq is paired only with formats whose zero point it optimises (intN, q4_1,
// q5_1: hqq_native); for the others it reduces to their RTN quantizer on
// ordinary weights, so those pairs are left out and named in *skipped.
Result<std::vector<CompareSpec>> compare_specs(const std::vector<std::string>& types,
                                               const std::vector<std::string>& methods, int group = 0,
                                               std::vector<std::string>* skipped = nullptr);

struct CompareOptions {
  std::string model_path, tokenizer_path;  // the original model (any format slimlm reads)
  std::string text_name;                   // for the report
  int64_t n_ctx = 256;
  int64_t n_chunks = -1;  // < 0: all whole chunks of the text
  int threads = 1;
  int64_t tg_tokens = 32;  // generation benchmark length; 0 skips it
  int tg_repetitions = 2;
  std::vector<std::vector<int32_t>> calib;  // calibration sequences for gptq / awq
  std::string work_dir;    // quantized files and the base log-probs go here
  bool keep_files = false; // else each quantized file is deleted after its row
  std::function<void(const std::string&)> on_stage;  // "quantize q4_0 rtn", ...
  std::function<void(int64_t, int64_t)> on_chunk;    // progress inside a stage
  std::function<void(const CompareRow&)> on_row;
};

// tokens: the tokenized text with BOS handling done (as for perplexity).
Result<CompareReport> run_compare(const std::vector<int32_t>& tokens, const std::vector<CompareSpec>& specs,
                                  const CompareOptions& o);

}  // namespace slimlm
