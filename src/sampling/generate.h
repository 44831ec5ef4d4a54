// Text generation: prompt prefill, then sample / evaluate token by token,
// streaming text as it becomes complete UTF-8, stopping at EOS, a stop string,
// n_predict tokens or a full context.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"
#include "model/llama.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace slimlm {

struct GenerateOptions {
  int64_t n_predict = 128;          // < 0: until EOS or a full context
  std::vector<std::string> stop;    // stop strings (not included in the output)
  bool stop_at_eog = true;
};

struct GenerateStats {
  int64_t n_prompt = 0, n_generated = 0;
  double prompt_seconds = 0, gen_seconds = 0;
  std::string stop_reason;  // "eos", "stop string", "n_predict", "context full", "cancelled"
  std::vector<int32_t> tokens;  // generated ids
  double prompt_tps() const { return prompt_seconds > 0 ? n_prompt / prompt_seconds : 0; }
  double gen_tps() const { return gen_seconds > 0 ? n_generated / gen_seconds : 0; }
};

// Evaluates `prompt` (appended to what ctx already holds) and generates. on_text
// receives text pieces as they are final; returning false cancels.
Result<GenerateStats> generate(LlamaContext& ctx, const Tokenizer& tok, Sampler& sampler,
                               const std::vector<int32_t>& prompt, const GenerateOptions& opts,
                               const std::function<bool(const std::string&)>& on_text);

}  // namespace slimlm
