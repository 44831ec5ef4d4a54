// Token sampling: penalties, then top-k, top-p, min-p and temperature, then a
// draw from a seeded generator (reproducible across runs and machines).
// temperature <= 0 is greedy (argmax, lowest id on ties).
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

namespace slimlm {

struct SamplerParams {
  float temperature = 0.8f;
  int32_t top_k = 40;        // <= 0: off
  float top_p = 0.95f;       // >= 1: off
  float min_p = 0.05f;       // <= 0: off
  float repeat_penalty = 1.0f;     // 1: off (divides positive logits, multiplies negative)
  float frequency_penalty = 0.0f;  // subtracts count * f
  float presence_penalty = 0.0f;   // subtracts p once a token appeared
  int32_t penalty_last_n = 64;     // window for the penalties (0: off, -1: whole history)
  uint64_t seed = 0xC0FFEE;
};

class Sampler {
 public:
  explicit Sampler(const SamplerParams& p);

  // Picks the next token from n_vocab logits (not modified).
  int32_t sample(const float* logits, int32_t n_vocab);
  // Records a token (prompt or generated) for the penalties.
  void accept(int32_t token);
  void reset();

  const SamplerParams& params() const { return p_; }

 private:
  double uniform();  // [0, 1)
  SamplerParams p_;
  uint64_t state_;
  std::deque<int32_t> history_;
  std::vector<float> work_;
  std::vector<int32_t> ids_;
};

}  // namespace slimlm
