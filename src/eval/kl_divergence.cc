#include "eval/kl_divergence.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

namespace slimlm {
// ---- writer ------------------------------------------------------------------
// Layout (little-endian): u32 magic "SLKL", u32 version, u32 n_ctx, u32 n_vocab,
// u32 n_chunks, u32 n_positions, u32 n_tokens, i32 tokens[n_tokens], then per
// scored position: f32 max_lp, f32 step, i32 argmax, u16 q[n_vocab] with
// lp = max_lp - q * step (q = 65535: at or below the floor max_lp - kKldRange).
// The exact argmax is kept because 16-bit rounding can tie near-equal tops.

Result<std::unique_ptr<KldBaseWriter>> KldBaseWriter::create(const std::string& path, const KldHeader& h) {
  SLIMLM_ASSIGN_OR_RETURN(AtomicFile f, AtomicFile::create(path));
  std::unique_ptr<KldBaseWriter> w(new KldBaseWriter(std::move(f)));
  w->h_ = h;
  const uint32_t words[] = {kKldMagic, kKldVersion, h.n_ctx, h.n_vocab, h.n_chunks, h.n_positions,
                            static_cast<uint32_t>(h.tokens.size())};
  SLIMLM_RETURN_IF_ERROR(w->f_.write(words, sizeof words));
  SLIMLM_RETURN_IF_ERROR(w->f_.write(h.tokens.data(), h.tokens.size() * sizeof(int32_t)));
  w->q_.resize(h.n_vocab);
  return w;
}

Status KldBaseWriter::add(const float* lp) {
  if (written_ >= h_.n_positions) return Error{"KL base file: more positions than declared"};
  const uint32_t V = h_.n_vocab;
  const float* top = std::max_element(lp, lp + V);
  const float mx = *top;
  const int32_t argmax = static_cast<int32_t>(top - lp);
  const float step = kKldRange / 65535.0f;
  for (uint32_t i = 0; i < V; ++i) {
    const float d = (mx - lp[i]) / step;
    q_[i] = d >= 65535.0f ? 65535 : static_cast<uint16_t>(std::lround(d));
  }
  const float hdr[2] = {mx, step};
  SLIMLM_RETURN_IF_ERROR(f_.write(hdr, sizeof hdr));
  SLIMLM_RETURN_IF_ERROR(f_.write(&argmax, sizeof argmax));
  SLIMLM_RETURN_IF_ERROR(f_.write(q_.data(), V * sizeof(uint16_t)));
  ++written_;
  return {};
}

Status KldBaseWriter::finish() {
  if (written_ != h_.n_positions)
    return Error{fmt::format("KL base file: {} of {} positions written", written_, h_.n_positions)};
  return f_.commit();
}

// ---- reader ------------------------------------------------------------------

Result<std::unique_ptr<KldBaseReader>> KldBaseReader::open(const std::string& path) {
  SLIMLM_ASSIGN_OR_RETURN(auto mf, MappedFile::open(path));
  std::unique_ptr<KldBaseReader> r(new KldBaseReader());
  r->file_ = mf;
  const uint64_t size = mf->size();
  uint32_t w[7];
  if (size < sizeof w) return Error{fmt::format("{}: truncated: not a slimlm KL-divergence base file", path)};
  std::memcpy(w, mf->data(), sizeof w);
  if (w[0] != kKldMagic) return Error{fmt::format("{}: not a slimlm KL-divergence base file (bad magic)", path)};
  if (w[1] != kKldVersion) return Error{fmt::format("{}: unsupported KL base file version {}", path, w[1])};
  KldHeader& h = r->h_;
  h.n_ctx = w[2];
  h.n_vocab = w[3];
  h.n_chunks = w[4];
  h.n_positions = w[5];
  const uint64_t n_tokens = w[6];
  if (h.n_vocab == 0 || h.n_ctx < 4 || uint64_t{h.n_chunks} * h.n_ctx > n_tokens ||
      uint64_t{h.n_positions} != uint64_t{h.n_chunks} * (h.n_ctx - 1 - h.n_ctx / 2))
    return Error{fmt::format("{}: inconsistent header (n_ctx {}, n_vocab {}, chunks {}, positions {}, tokens {})", path,
                             h.n_ctx, h.n_vocab, h.n_chunks, h.n_positions, n_tokens)};
  const uint64_t row = kKldRowHeader + 2ull * h.n_vocab;
  r->rows_offset_ = sizeof w + 4 * n_tokens;
  if (r->rows_offset_ > size || (size - r->rows_offset_) / row < h.n_positions ||
      size - r->rows_offset_ != row * h.n_positions)
    return Error{fmt::format("{}: size {} does not match its header ({} positions of {} bytes after byte {})", path,
                             size, h.n_positions, row, r->rows_offset_)};
  h.tokens.resize(n_tokens);
  std::memcpy(h.tokens.data(), mf->data() + sizeof w, 4 * n_tokens);
  for (int32_t t : h.tokens)
    if (t < 0 || static_cast<uint32_t>(t) >= h.n_vocab)
      return Error{fmt::format("{}: token id {} outside the vocabulary of {}", path, t, h.n_vocab)};
  return r;
}

int32_t KldBaseReader::read(uint32_t i, float* out) const {
  const uint8_t* p = file_->data() + rows_offset_ + uint64_t{i} * (kKldRowHeader + 2ull * h_.n_vocab);
  float hdr[2];
  int32_t argmax;
  std::memcpy(hdr, p, 8);
  std::memcpy(&argmax, p + 8, 4);
  p += kKldRowHeader;
  for (uint32_t v = 0; v < h_.n_vocab; ++v) {
    uint16_t q;
    std::memcpy(&q, p + 2 * v, 2);
    out[v] = hdr[0] - static_cast<float>(q) * hdr[1];
  }
  // Renormalise: the 16-bit rounding then perturbs a proper distribution, and
  // KL-divergence grows only with the square of that perturbation (~1e-9),
  // so a model compared with its own base file gives 0.
  log_softmax(out, h_.n_vocab, out);
  return argmax >= 0 && static_cast<uint32_t>(argmax) < h_.n_vocab ? argmax : -1;
}

// ---- statistics --------------------------------------------------------------

void KldAccumulator::add(const float* b, const float* q, int64_t V, int32_t token, int32_t base_argmax) {
  double kld = 0;
  int64_t amax_b = 0, amax_q = 0;
  for (int64_t i = 0; i < V; ++i) {
    const double pb = std::exp(static_cast<double>(b[i]));
    kld += pb * (static_cast<double>(b[i]) - q[i]);
    if (b[i] > b[amax_b]) amax_b = i;
    if (q[i] > q[amax_q]) amax_q = i;
  }
  if (base_argmax >= 0) amax_b = base_argmax;
  kld = std::max(0.0, kld);  // rounding of the stored log-probs can dip below 0
  kld_.push_back(kld);
  sum_kld_ += kld;
  sum_kld2_ += kld * kld;
  const double nll_b = -b[token], nll_q = -q[token];
  sum_nll_b_ += nll_b;
  sum_nll_q_ += nll_q;
  sum_dnll_ += nll_q - nll_b;
  sum_dnll2_ += (nll_q - nll_b) * (nll_q - nll_b);
  const double dp = std::exp(-nll_q) - std::exp(-nll_b);
  sum_dp_ += dp;
  sum_dp2_ += dp * dp;
  sum_dp4_ += dp * dp * dp * dp;
  agree_ += amax_b == amax_q;
}

KldResult KldAccumulator::result() const {
  KldResult r;
  const auto n = static_cast<double>(kld_.size());
  r.n = static_cast<int64_t>(kld_.size());
  if (r.n == 0) return r;
  // Standard error of a mean from its first two moments.
  auto sem = [n](double s, double s2) { return n > 1 ? std::sqrt(std::max(0.0, s2 / n - (s / n) * (s / n)) / (n - 1)) : 0.0; };
  r.ppl_q = std::exp(sum_nll_q_ / n);
  r.ppl_base = std::exp(sum_nll_b_ / n);
  r.ln_ppl_ratio = sum_dnll_ / n;
  r.ln_ppl_ratio_err = sem(sum_dnll_, sum_dnll2_);
  r.kld_mean = sum_kld_ / n;
  r.kld_err = sem(sum_kld_, sum_kld2_);
  std::vector<double> s = kld_;
  std::sort(s.begin(), s.end());
  auto pct = [&](double p) { return s[std::min(s.size() - 1, static_cast<size_t>(p * (n - 1) + 0.5))]; };
  r.kld_median = pct(0.5);
  r.kld_p90 = pct(0.9);
  r.kld_p95 = pct(0.95);
  r.kld_p99 = pct(0.99);
  r.kld_max = s.back();
  r.top1_agree = static_cast<double>(agree_) / n;
  r.top1_err = std::sqrt(r.top1_agree * (1 - r.top1_agree) / std::max(1.0, n - 1));
  r.dp_mean = sum_dp_ / n;
  r.rms_dp = std::sqrt(sum_dp2_ / n);
  // Error of sqrt(mean(dp²)) by the delta method from the error of mean(dp²).
  r.rms_dp_err = r.rms_dp > 0 ? sem(sum_dp2_, sum_dp4_) / (2 * r.rms_dp) : 0;
  return r;
}

Result<KldResult> kl_divergence(LlamaContext& ctx, const KldBaseReader& base, const KldOptions& o) {
  const KldHeader& h = base.header();
  if (static_cast<int64_t>(h.n_vocab) != ctx.n_vocab())
    return Error{fmt::format("KL divergence: the base has a vocabulary of {}, this model {}", h.n_vocab,
                             ctx.n_vocab())};
  if (static_cast<int64_t>(h.n_ctx) > ctx.n_ctx())
    return Error{fmt::format("KL divergence: the base used chunks of {} tokens, more than this context ({})", h.n_ctx,
                             ctx.n_ctx())};
  int64_t n_chunks = h.n_chunks;
  if (o.n_chunks >= 0) n_chunks = std::min(n_chunks, o.n_chunks);
  const int64_t V = h.n_vocab, n_ctx = h.n_ctx, first = n_ctx / 2, per_chunk = n_ctx - 1 - first;
  std::vector<float> lp_q(static_cast<size_t>(V)), lp_b(static_cast<size_t>(V));
  std::vector<int32_t> chunk(static_cast<size_t>(n_ctx));
  KldAccumulator acc;
  // The base file's first token of each chunk already is what the base saw
  // (BOS replacement included): it stores the chunk tokens as evaluated.
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::copy(h.tokens.begin() + c * n_ctx, h.tokens.begin() + (c + 1) * n_ctx, chunk.begin());
    ctx.truncate(0);
    SLIMLM_RETURN_IF_ERROR(ctx.eval(chunk.data(), n_ctx, true));
    for (int64_t j = first; j < n_ctx - 1; ++j) {
      log_softmax(ctx.logits() + j * V, V, lp_q.data());
      const int32_t top = base.read(static_cast<uint32_t>(c * per_chunk + (j - first)), lp_b.data());
      acc.add(lp_b.data(), lp_q.data(), V, chunk[static_cast<size_t>(j + 1)], top);
    }
    if (o.on_chunk && !o.on_chunk(c, n_chunks, acc.running_kld_mean())) break;
  }
  return acc.result();
}

}  // namespace slimlm
