#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

namespace slimlm {

Sampler::Sampler(const SamplerParams& p) : p_(p), state_(p.seed) {}

void Sampler::reset() {
  state_ = p_.seed;
  history_.clear();
}

// splitmix64: tiny, fast and fully specified, so a seed gives the same text everywhere.
double Sampler::uniform() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

void Sampler::accept(int32_t token) {
  history_.push_back(token);
  const size_t keep = p_.penalty_last_n < 0 ? SIZE_MAX : static_cast<size_t>(p_.penalty_last_n);
  while (history_.size() > keep) history_.pop_front();
}

int32_t Sampler::sample(const float* logits, int32_t n_vocab) {
  work_.assign(logits, logits + n_vocab);
  // Penalties over the recent history.
  if (!history_.empty() && (p_.repeat_penalty != 1.0f || p_.frequency_penalty != 0.0f || p_.presence_penalty != 0.0f)) {
    std::unordered_map<int32_t, int> counts;
    for (int32_t t : history_)
      if (t >= 0 && t < n_vocab) ++counts[t];
    for (const auto& [t, cnt] : counts) {
      float& l = work_[static_cast<size_t>(t)];
      if (p_.repeat_penalty != 1.0f) l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
      l -= static_cast<float>(cnt) * p_.frequency_penalty + p_.presence_penalty;
    }
  }
  if (p_.temperature <= 0.0f) {
    return static_cast<int32_t>(std::max_element(work_.begin(), work_.end()) - work_.begin());
  }
  // Candidates sorted by logit (descending; ties by id for determinism).
  ids_.resize(static_cast<size_t>(n_vocab));
  std::iota(ids_.begin(), ids_.end(), 0);
  auto by_logit = [&](int32_t a, int32_t b) { return work_[a] > work_[b] || (work_[a] == work_[b] && a < b); };
  size_t n = ids_.size();
  if (p_.top_k > 0 && static_cast<size_t>(p_.top_k) < n) {
    std::partial_sort(ids_.begin(), ids_.begin() + p_.top_k, ids_.end(), by_logit);
    n = static_cast<size_t>(p_.top_k);
  } else {
    std::sort(ids_.begin(), ids_.end(), by_logit);
  }
  // Softmax at temperature over the survivors.
  std::vector<double> prob(n);
  const double mx = work_[ids_[0]];
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) sum += prob[i] = std::exp((work_[ids_[i]] - mx) / p_.temperature);
  for (auto& x : prob) x /= sum;
  // min-p: drop tokens below min_p * p(best).
  if (p_.min_p > 0.0f) {
    size_t keep = 1;
    while (keep < n && prob[keep] >= p_.min_p * prob[0]) ++keep;
    n = keep;
  }
  // top-p: the smallest prefix whose mass reaches top_p.
  if (p_.top_p < 1.0f) {
    double cum = 0.0;
    size_t keep = 0;
    while (keep < n) {
      cum += prob[keep++];
      if (cum >= p_.top_p) break;
    }
    n = keep;
  }
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) total += prob[i];
  double r = uniform() * total;
  for (size_t i = 0; i < n; ++i) {
    r -= prob[i];
    if (r < 0.0) return ids_[i];
  }
  return ids_[n - 1];
}

}  // namespace slimlm
