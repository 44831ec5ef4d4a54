// KL-divergence of a model (usually quantized) against a base model, measured
// on the base's own tokens, with the statistics llama.cpp's
// llama-perplexity --kl-divergence reports. The base's log-probabilities are
// saved once in a compact file (format in docs/EVALUATION.md).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "eval/perplexity.h"
#include "io/atomic_file.h"
#include "io/mapped_file.h"

namespace slimlm {

inline constexpr uint32_t kKldMagic = 0x4C4B4C53;  // "SLKL"
inline constexpr uint32_t kKldVersion = 1;
// Log-probabilities more than this far below a row's maximum are stored as the
// floor; their probabilities (< e^-30) do not move any reported statistic.
inline constexpr float kKldRange = 30.0f;
inline constexpr uint64_t kKldRowHeader = 12;  // f32 max, f32 step, i32 argmax

struct KldHeader {
  uint32_t n_ctx = 0, n_vocab = 0, n_chunks = 0, n_positions = 0;
  std::vector<int32_t> tokens;  // the whole tokenized text (n_chunks * n_ctx used)
};

// Streams base log-probabilities to disk (atomically, on finish()).
class KldBaseWriter {
 public:
  static Result<std::unique_ptr<KldBaseWriter>> create(const std::string& path, const KldHeader& h);
  Status add(const float* logprobs);  // one scored position, n_vocab values
  Status finish();

 private:
  explicit KldBaseWriter(AtomicFile f) : f_(std::move(f)) {}
  AtomicFile f_;
  KldHeader h_;
  uint32_t written_ = 0;
  std::vector<uint16_t> q_;
};

// Reads a base file (untrusted: every size is checked against the file).
class KldBaseReader {
 public:
  static Result<std::unique_ptr<KldBaseReader>> open(const std::string& path);
  const KldHeader& header() const { return h_; }
  // Log-probabilities of scored position i (0 <= i < n_positions) into
  // out[n_vocab]; returns the base's exact argmax (-1 if the file's is invalid).
  int32_t read(uint32_t i, float* out) const;

 private:
  std::shared_ptr<MappedFile> file_;
  KldHeader h_;
  uint64_t rows_offset_ = 0;
};

struct KldResult {
  double ppl_q = 0, ppl_base = 0;
  double ln_ppl_ratio = 0, ln_ppl_ratio_err = 0;
  double kld_mean = 0, kld_err = 0;
  double kld_median = 0, kld_p90 = 0, kld_p95 = 0, kld_p99 = 0, kld_max = 0;
  double top1_agree = 0, top1_err = 0;  // fraction in [0, 1]
  double rms_dp = 0, rms_dp_err = 0;    // Δp = p_q(token) - p_base(token)
  double dp_mean = 0;
  int64_t n = 0;
};

// Accumulates per-position comparisons.
class KldAccumulator {
 public:
  // base_argmax: the base's top token if known exactly (-1: take it from base_lp).
  void add(const float* base_lp, const float* q_lp, int64_t n_vocab, int32_t token, int32_t base_argmax = -1);
  KldResult result() const;
  double running_kld_mean() const { return kld_.empty() ? 0.0 : sum_kld_ / static_cast<double>(kld_.size()); }

 private:
  std::vector<double> kld_;
  double sum_kld_ = 0, sum_kld2_ = 0, sum_dnll_ = 0, sum_dnll2_ = 0, sum_nll_q_ = 0, sum_nll_b_ = 0;
  double sum_dp_ = 0, sum_dp2_ = 0, sum_dp4_ = 0;
  int64_t agree_ = 0;
};

struct KldOptions {
  int64_t n_chunks = -1;  // < 0: all chunks of the base file
  std::function<bool(int64_t, int64_t, double)> on_chunk;  // (chunk, chunks, running mean KLD)
};

// Evaluates ctx on the base file's tokens and compares with its log-probs.
Result<KldResult> kl_divergence(LlamaContext& ctx, const KldBaseReader& base, const KldOptions& opts);

}  // namespace slimlm
