#include "model/importance.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "model/calib_stats.h"

namespace slimlm {

Result<std::vector<TensorImportance>> collect_importance(std::shared_ptr<const LlamaModel> model,
                                                         const std::vector<std::vector<int32_t>>& chunks, int threads,
                                                         const std::function<void(int64_t, int64_t)>& on_chunk) {
  if (!model) return Error{"importance: no model"};
  if (chunks.empty()) return Error{"importance: no calibration chunks"};
  const ModelConfig& c = model->config();
  int64_t n_ctx = 0;
  for (const auto& ch : chunks) n_ctx = std::max<int64_t>(n_ctx, static_cast<int64_t>(ch.size()));
  LlamaContext::Options o;
  o.n_ctx = n_ctx;
  o.n_batch = n_ctx;
  o.n_threads = threads;
  SLIMLM_ASSIGN_OR_RETURN(auto ctx, LlamaContext::create(model, o));

  // Per layer, the magnitudes of the four linear inputs (no H, no sample).
  LayerStatsOptions so;
  so.hessian = false;
  so.max_sample = 0;
  std::vector<LayerStats> stats(static_cast<size_t>(c.n_layer), LayerStats(c, so, nullptr));
  ctx->set_observer([&](int64_t l, LinearInput slot, const float* x, int64_t n, int64_t n_in) {
    stats[static_cast<size_t>(l)].add(slot, x, n, n_in);
  });
  for (size_t i = 0; i < chunks.size(); ++i) {
    ctx->truncate(0);
    SLIMLM_RETURN_IF_ERROR(ctx->eval(chunks[i].data(), static_cast<int64_t>(chunks[i].size())));
    if (on_chunk) on_chunk(static_cast<int64_t>(i + 1), static_cast<int64_t>(chunks.size()));
  }
  ctx->set_observer({});

  std::vector<TensorImportance> out;
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const LlamaLayer& L = model->layers()[static_cast<size_t>(l)];
    const bool fused_qkv = L.wqkv.data != nullptr;
    const std::array<std::vector<const char*>, 4> consumers = {
        fused_qkv ? std::vector<const char*>{"attn_qkv"} : std::vector<const char*>{"attn_q", "attn_k", "attn_v"},
        std::vector<const char*>{"attn_output"},
        L.w_gate_up.data ? std::vector<const char*>{"ffn_up"} : std::vector<const char*>{"ffn_gate", "ffn_up"},
        std::vector<const char*>{"ffn_down"}};
    for (size_t s = 0; s < 4; ++s) {
      const SlotStats& a = stats[static_cast<size_t>(l)].slot(static_cast<LinearInput>(s));
      for (const char* name : consumers[s]) {
        TensorImportance ti;
        ti.name = fmt::format("blk.{}.{}.weight", l, name);
        ti.n_calls = static_cast<int64_t>(chunks.size());
        ti.n_tokens = a.n_tokens;
        ti.mean_sq.resize(a.sq_sum.size());
        for (size_t j = 0; j < a.sq_sum.size(); ++j) ti.mean_sq[j] = a.n_tokens ? a.sq_sum[j] / a.n_tokens : 0.0;
        out.push_back(std::move(ti));
      }
    }
  }
  return out;
}

}  // namespace slimlm
