// Decoder-only Llama-family forward pass (llama, mistral, qwen2, phi3) over
// weights kept in their stored type. One code path serves batched prefill and
// single-token decode.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/packed.h"
#include "model/model_desc.h"

namespace slimlm {

struct LlamaLayer {
  std::vector<float> attn_norm, ffn_norm;  // [n_embd]
  kernels::WeightView wq, wk, wv, wo;      // or wqkv (phi3)
  kernels::WeightView wqkv;
  std::vector<float> bq, bk, bv;           // qwen2 biases (empty if none)
  kernels::WeightView w_gate, w_up, w_down;  // or w_gate_up (phi3: gate rows first)
  kernels::WeightView w_gate_up;
};

class LlamaModel {
 public:
  // Checks the architecture, shapes and types; keeps `desc` (and its mappings).
  static Result<std::shared_ptr<const LlamaModel>> create(ModelDesc desc);

  const ModelConfig& config() const { return desc_.config; }
  const ModelDesc& desc() const { return desc_; }
  const std::vector<LlamaLayer>& layers() const { return layers_; }
  const kernels::WeightView& token_embd() const { return token_embd_; }
  const kernels::WeightView& output() const { return output_; }
  const std::vector<float>& output_norm() const { return output_norm_; }
  bool rope_neox() const { return rope_neox_; }
  float rope_freq_scale() const { return rope_freq_scale_; }

  // The matrices repacked for the integer kernels (kernels/packed.h), keyed
  // by their stored data; built on first use (thread-safe) if the kernel
  // level (kernels/cpu.h) is not scalar then. `w` with its packed copy
  // attached when there is one (packed_matmul then picks the kernel for the
  // current level: SIMD, or its scalar reference). The packing runs on
  // `pool` when given (a context passes its own, so a model is packed with
  // the threads of the first context that needs it: its -t), else on a
  // temporary pool of every core.
  kernels::WeightView with_packed(const kernels::WeightView& w, ThreadPool* pool = nullptr) const;
  void prepare_packed(ThreadPool* pool = nullptr) const;

 private:
  mutable std::once_flag pack_once_;
  mutable std::unordered_map<const uint8_t*, kernels::PackedWeight> packed_;
  mutable kernels::WeightBuffer pack_arena_{nullptr, nullptr};  // all of packed_'s data
  ModelDesc desc_;
  std::vector<LlamaLayer> layers_;
  kernels::WeightView token_embd_, output_;
  std::vector<float> output_norm_;
  bool rope_neox_ = false;
  float rope_freq_scale_ = 1.0f;
};

// Where a linear layer of a decoder block reads its input, for calibration:
// kAttn feeds q, k, v (or the fused qkv), kAttnOut the output projection,
// kFfn gate and up, kFfnDown the down projection.
enum class LinearInput { kAttn, kAttnOut, kFfn, kFfnDown };
// Sees the input rows x [n_tokens][n_in] of one linear input of layer `layer`.
using LinearObserver =
    std::function<void(int64_t layer, LinearInput slot, const float* x, int64_t n_tokens, int64_t n_in)>;

// The state of one sequence: KV cache, scratch buffers, logits.
class LlamaContext {
 public:
  struct Options {
    int64_t n_ctx = 0;    // 0: the model's training context, at most 4096
    int64_t n_batch = 64; // tokens per internal micro-batch
    int n_threads = 0;    // 0: physical cores
    // int8 activations for the integer dot products of Q8_0/Q4_*/Q5_*/IQ4_NL/
    // INTn weights (kernels/act_quant.h); kNone keeps the fp32 path.
    kernels::ActQuant act_quant = kernels::ActQuant::kNone;
    // Largest KV cache (bytes) create() allocates; 0: the machine's physical
    // memory. A bigger context is refused with an error, not an OOM kill.
    int64_t max_kv_bytes = 0;
  };
  static Result<std::unique_ptr<LlamaContext>> create(std::shared_ptr<const LlamaModel> model, const Options& opts);

  // Evaluates `n` tokens at positions n_past() .. n_past()+n-1 and appends them
  // to the cache. Logits of the last token (all_logits=false) or of every token
  // (true) are then in logits(), n_vocab floats per token.
  Status eval(const int32_t* tokens, int64_t n, bool all_logits = false);

  const float* logits() const { return logits_.data(); }
  int64_t n_logits() const { return n_logit_rows_; }
  int64_t n_vocab() const { return model_->config().n_vocab; }
  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return n_ctx_; }
  // Forgets cached positions >= n (n <= n_past()).
  void truncate(int64_t n);
  int n_threads() const { return pool_.size(); }
  kernels::ActQuant act_quant() const { return act_quant_; }
  const LlamaModel& model() const { return *model_; }

  // Calibration hooks. An observer set here sees every linear input of every
  // eval() (e.g. to collect an importance matrix); empty to remove.
  void set_observer(LinearObserver obs) { observer_ = std::move(obs); }
  // The token embeddings of `tokens` into x [n][n_embd].
  void embed(const int32_t* tokens, int64_t n, float* x) const;
  // Runs decoder layer l with `weights` (the model's own, or a replacement of
  // the same shapes, e.g. quantized) over one sequence x [n][n_embd] at
  // positions 0..n-1, in place (n <= n_batch and n_ctx). The cache is reused:
  // n_past() becomes n. obs, if given, sees the inputs of the linear layers.
  Status run_layer(int64_t l, const LlamaLayer& weights, float* x, int64_t n, const LinearObserver* obs = nullptr);

 private:
  LlamaContext(std::shared_ptr<const LlamaModel> model, int64_t n_ctx, int64_t n_batch, int n_threads,
               kernels::ActQuant act_quant);
  // w as the kernels take it: with its packed copy when activations are
  // quantized (packed on first use).
  kernels::WeightView view(const kernels::WeightView& w) {
    return act_quant_ == kernels::ActQuant::kNone ? w : model_->with_packed(w, &pool_);
  }
  void matmul(const kernels::WeightView& w, const float* x, int64_t n_tokens, float* y, int64_t ld_y) {
    kernels::matmul(view(w), x, n_tokens, y, ld_y, pool_, act_quant_);
  }
  void matmul(const kernels::WeightView& w, const kernels::QuantizedInput& in, float* y, int64_t ld_y) {
    kernels::matmul(view(w), in, y, ld_y, pool_);
  }
  // Up to four matrices reading the same input, in one parallel loop
  // (kernels::matmul_many): Q, K and V; gate and up.
  void matmul_many(const kernels::QuantizedInput& in, std::initializer_list<kernels::MatmulOut> outs) {
    kernels::WeightView v[4];
    kernels::MatmulOut o[4];
    int n = 0;
    for (const auto& out : outs) {
      if (n == 4) break;
      v[n] = view(*out.w);
      o[n] = {&v[n], out.y, out.ld_y};
      ++n;
    }
    kernels::matmul_many(o, n, in, pool_);
  }
  // Token t's input row (n values) quantized into xq_ when the context
  // quantizes activations: called in the per-token pass that just wrote the
  // row (RMSNorm, SwiGLU), so it is read while still in cache and once for
  // all the matmuls that take it. quantized() describes the batch for them.
  void quantize_row(const float* row, int64_t t, int64_t n) {
    if (!xq_.empty()) kernels::quantize_act_row(row, n, act_quant_, &xq_[t * (n / kernels::kActBlock)]);
  }
  kernels::QuantizedInput quantized(const float* x, int64_t B, int64_t n) const {
    return {x, B, n, act_quant_, xq_.empty() ? nullptr : xq_.data()};
  }
  void eval_batch(const int32_t* tokens, int64_t n, bool all_logits, int64_t logit_row0);
  // fn(t) for t in [0, B): over the pool's threads for a batch of tokens
  // (each token's values are computed the same way on any thread).
  template <typename F>
  void per_token(int64_t B, F&& fn) {
    if (B < 4 || pool_.size() == 1) {
      for (int64_t t = 0; t < B; ++t) fn(t);
      return;
    }
    pool_.parallel_for(B, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) fn(t);
    });
  }
  void layer_forward(const LlamaLayer& L, int64_t l, float* x, int64_t B, const LinearObserver* obs);

  std::shared_ptr<const LlamaModel> model_;
  int64_t n_ctx_, n_batch_;
  kernels::ActQuant act_quant_;
  LinearObserver observer_;
  ThreadPool pool_;
  int64_t n_past_ = 0;
  int64_t kv_dim_ = 0;
  std::vector<float> k_cache_, v_cache_;  // [n_layer][n_ctx][kv_dim]
  // Scratch, sized once for n_batch tokens.
  std::vector<float> x_, xn_, q_, qkv_, att_out_, gate_, up_, gate_up_, scores_;
  std::vector<kernels::ActBlock> xq_;  // quantized rows of xn_ / gate_ (empty: no activation quantization)
  std::vector<float> logits_;
  int64_t n_logit_rows_ = 0;
};

}  // namespace slimlm
