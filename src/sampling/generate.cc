#include "sampling/generate.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

namespace slimlm {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Length of the longest suffix of `text` that is a proper prefix of a stop string.
size_t held_back(const std::string& text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const auto& s : stops)
    for (size_t k = std::min(s.size() - 1, text.size()); k > hold; --k)
      if (text.compare(text.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
  return hold;
}

}  // namespace

Result<GenerateStats> generate(LlamaContext& ctx, const Tokenizer& tok, Sampler& sampler,
                               const std::vector<int32_t>& prompt, const GenerateOptions& opts,
                               const std::function<bool(const std::string&)>& on_text) {
  GenerateStats st;
  if (prompt.empty()) return Error{"generate: empty prompt (no tokens)"};
  if (ctx.n_past() + static_cast<int64_t>(prompt.size()) > ctx.n_ctx())
    return Error{fmt::format("prompt of {} tokens does not fit the context of {} (use -c)", prompt.size(),
                             ctx.n_ctx() - ctx.n_past())};
  std::vector<std::string> stops;
  for (const auto& s : opts.stop)
    if (!s.empty()) stops.push_back(s);

  auto t0 = std::chrono::steady_clock::now();
  SLIMLM_RETURN_IF_ERROR(ctx.eval(prompt.data(), static_cast<int64_t>(prompt.size())));
  st.prompt_seconds = seconds_since(t0);
  st.n_prompt = static_cast<int64_t>(prompt.size());
  for (int32_t t : prompt) sampler.accept(t);

  StreamDecoder dec(tok);
  std::string pending;  // decoded text not yet emitted (may start a stop string)
  auto t1 = std::chrono::steady_clock::now();
  const int32_t n_vocab = static_cast<int32_t>(ctx.n_vocab());
  for (;;) {
    if (opts.n_predict >= 0 && st.n_generated >= opts.n_predict) {
      st.stop_reason = "n_predict";
      break;
    }
    const int32_t next = sampler.sample(ctx.logits(), n_vocab);
    if (opts.stop_at_eog && tok.is_eog(next)) {
      st.stop_reason = "eos";
      break;
    }
    sampler.accept(next);
    st.tokens.push_back(next);
    ++st.n_generated;
    pending += dec.push(next);
    bool stopped = false;
    for (const auto& s : stops) {
      size_t at = pending.find(s);
      if (at != std::string::npos) {
        pending.resize(at);
        stopped = true;
      }
    }
    if (stopped) {
      st.stop_reason = "stop string";
      break;
    }
    const size_t emit = pending.size() - held_back(pending, stops);
    if (emit > 0) {
      if (!on_text(pending.substr(0, emit))) {
        pending.clear();
        st.stop_reason = "cancelled";
        break;
      }
      pending.erase(0, emit);
    }
    if (ctx.n_past() >= ctx.n_ctx()) {
      st.stop_reason = "context full";
      break;
    }
    SLIMLM_RETURN_IF_ERROR(ctx.eval(&next, 1));
  }
  if (st.stop_reason != "stop string") pending += dec.flush();
  if (!pending.empty() && st.stop_reason != "cancelled") on_text(pending);
  st.gen_seconds = seconds_since(t1);
  return st;
}

}  // namespace slimlm
