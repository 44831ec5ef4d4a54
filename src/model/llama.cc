#include "model/llama.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kernels/cpu.h"
#include "kernels/ops.h"
#include "model/tensor_rows.h"
#include "quant/codec.h"
#include "quant/vq.h"

namespace slimlm {
namespace {

using kernels::WeightView;

class Binder {
 public:
  explicit Binder(const ModelDesc& m) : m_(m) {}

  // A matrix [n_in] x n_out in any dequantizable type, viewed in place.
  Result<WeightView> matrix(const std::string& name, int64_t n_in, int64_t n_out) const {
    const TensorRef* t = m_.find(name);
    if (!t) return Error{fmt::format("{}: tensor '{}' is missing", m_.path, name)};
    if (t->shape.size() != 2 || t->shape[0] != n_in || t->shape[1] != n_out)
      return Error{fmt::format("{}: tensor '{}' has shape [{}], expected [{}, {}]", m_.path, name,
                               fmt::join(t->shape, ", "), n_in, n_out)};
    if (const auto vq = vq_format(t->type)) {
      // A loaded GGUF has its tables attached (model/vq_tensors.h); a ModelDesc
      // built by hand might not.
      if (!t->vq || t->vq->codebook.size() != static_cast<size_t>(kVqEntries) * vq->dim ||
          (vq->row_scale && t->vq->row_scale.size() != static_cast<size_t>(n_out)))
        return Error{fmt::format("{}: {} tensor '{}' has no codebook ('{}')", m_.path, dtype_name(t->type), name,
                                 vq_codebook_name(name))};
    } else if (!can_dequantize(t->type))
      return Error{fmt::format("{}: tensor '{}' has type {}, which slimlm cannot compute with yet", m_.path, name,
                               dtype_name(t->type))};
    auto rb = row_bytes(t->type, static_cast<uint64_t>(n_in));
    if (!rb || *rb * static_cast<uint64_t>(n_out) != t->n_bytes)
      return Error{fmt::format("{}: tensor '{}' holds {} bytes, not {} rows of {}", m_.path, name, t->n_bytes, n_out,
                               dtype_name(t->type))};
    WeightView w{t->type, t->data, n_in, n_out, *rb};
    if (t->vq) {
      w.vq_codebook = t->vq->codebook.data();
      w.vq_row_scale = t->vq->row_scale.empty() ? nullptr : t->vq->row_scale.data();
    }
    return w;
  }

  // A vector (norm weight or bias) as fp32; empty when optional and absent.
  Result<std::vector<float>> vec(const std::string& name, int64_t n, bool optional = false) const {
    const TensorRef* t = m_.find(name);
    if (!t) {
      if (optional) return std::vector<float>{};
      return Error{fmt::format("{}: tensor '{}' is missing", m_.path, name)};
    }
    if (t->n_elements() != static_cast<uint64_t>(n))
      return Error{fmt::format("{}: tensor '{}' has {} elements, expected {}", m_.path, name, t->n_elements(), n)};
    return read_tensor_f32(*t);
  }

 private:
  const ModelDesc& m_;
};

}  // namespace

Result<std::shared_ptr<const LlamaModel>> LlamaModel::create(ModelDesc desc) {
  auto m = std::shared_ptr<LlamaModel>(new LlamaModel());
  m->desc_ = std::move(desc);
  const ModelDesc& d = m->desc_;
  const ModelConfig& c = d.config;
  const std::string& arch = c.arch;
  if (arch != "llama" && arch != "mistral" && arch != "qwen2" && arch != "phi3")
    return Error{fmt::format("{}: architecture '{}' is not supported (llama, mistral, qwen2, phi3)", d.path, arch)};
  if (c.n_embd <= 0 || c.n_layer <= 0 || c.n_head <= 0 || c.n_head_kv <= 0 || c.n_vocab <= 0 || c.n_ff <= 0 ||
      c.n_embd % c.n_head != 0 || c.n_head % c.n_head_kv != 0)
    return Error{fmt::format("{}: inconsistent hyper-parameters (n_embd {}, n_head {}, n_head_kv {}, n_layer {}, "
                             "n_ff {}, n_vocab {})",
                             d.path, c.n_embd, c.n_head, c.n_head_kv, c.n_layer, c.n_ff, c.n_vocab)};
  const int64_t hd = c.head_dim(), kv = hd * c.n_head_kv;
  if (c.n_rot <= 0 || c.n_rot > hd || c.n_rot % 2 != 0)
    return Error{fmt::format("{}: rope dimension {} does not fit head size {}", d.path, c.n_rot, hd)};

  Binder b(d);
  SLIMLM_ASSIGN_OR_RETURN(m->token_embd_, b.matrix("token_embd.weight", c.n_embd, c.n_vocab));
  SLIMLM_ASSIGN_OR_RETURN(m->output_norm_, b.vec("output_norm.weight", c.n_embd));
  if (d.find("output.weight")) {
    SLIMLM_ASSIGN_OR_RETURN(m->output_, b.matrix("output.weight", c.n_embd, c.n_vocab));
  } else {
    m->output_ = m->token_embd_;  // tied embeddings
  }
  // Hugging Face Llama Q/K (rotate-half order) run with NeoX-style RoPE, which
  // is the same computation as llama.cpp's permuted rows with interleaved RoPE.
  const TensorRef* q0 = d.find("blk.0.attn_q.weight");
  m->rope_neox_ = arch == "qwen2" || arch == "phi3" || (q0 && q0->permute_heads > 0);
  if (c.rope_scaling == "linear" && c.rope_scaling_factor > 0)
    m->rope_freq_scale_ = static_cast<float>(1.0 / c.rope_scaling_factor);

  for (int64_t l = 0; l < c.n_layer; ++l) {
    auto n = [&](const char* s) { return fmt::format("blk.{}.{}", l, s); };
    LlamaLayer L;
    SLIMLM_ASSIGN_OR_RETURN(L.attn_norm, b.vec(n("attn_norm.weight"), c.n_embd));
    SLIMLM_ASSIGN_OR_RETURN(L.ffn_norm, b.vec(n("ffn_norm.weight"), c.n_embd));
    if (arch == "phi3") {
      SLIMLM_ASSIGN_OR_RETURN(L.wqkv, b.matrix(n("attn_qkv.weight"), c.n_embd, c.n_embd + 2 * kv));
      SLIMLM_ASSIGN_OR_RETURN(L.w_gate_up, b.matrix(n("ffn_up.weight"), c.n_embd, 2 * c.n_ff));
    } else {
      SLIMLM_ASSIGN_OR_RETURN(L.wq, b.matrix(n("attn_q.weight"), c.n_embd, c.n_embd));
      SLIMLM_ASSIGN_OR_RETURN(L.wk, b.matrix(n("attn_k.weight"), c.n_embd, kv));
      SLIMLM_ASSIGN_OR_RETURN(L.wv, b.matrix(n("attn_v.weight"), c.n_embd, kv));
      SLIMLM_ASSIGN_OR_RETURN(L.w_gate, b.matrix(n("ffn_gate.weight"), c.n_embd, c.n_ff));
      SLIMLM_ASSIGN_OR_RETURN(L.w_up, b.matrix(n("ffn_up.weight"), c.n_embd, c.n_ff));
      SLIMLM_ASSIGN_OR_RETURN(L.bq, b.vec(n("attn_q.bias"), c.n_embd, true));
      SLIMLM_ASSIGN_OR_RETURN(L.bk, b.vec(n("attn_k.bias"), kv, true));
      SLIMLM_ASSIGN_OR_RETURN(L.bv, b.vec(n("attn_v.bias"), kv, true));
    }
    SLIMLM_ASSIGN_OR_RETURN(L.wo, b.matrix(n("attn_output.weight"), c.n_embd, c.n_embd));
    SLIMLM_ASSIGN_OR_RETURN(L.w_down, b.matrix(n("ffn_down.weight"), c.n_ff, c.n_embd));
    m->layers_.push_back(std::move(L));
  }
  return std::shared_ptr<const LlamaModel>(std::move(m));
}

void LlamaModel::prepare_packed(ThreadPool* pool) const {
  std::call_once(pack_once_, [this, pool] {
    if (kernels::kernel_level() == kernels::KernelLevel::kScalar) return;
    // Every packed matrix in one buffer, in the order a token reads them, so
    // decode streams the whole model forward as one run of huge pages
    // (matrices allocated one by one left each one's last, partial 2 MiB on
    // small pages: ~14 % of tinyllama's bytes).
    std::vector<std::pair<const WeightView*, int64_t>> todo;  // and its offset in the buffer
    int64_t total = 0;
    auto plan = [&](const WeightView& w) {
      if (!w.data || w.vq_codebook || !kernels::can_pack(w.type, w.n_in, w.n_out)) return;
      for (const auto& [v, at] : todo)
        if (v->data == w.data) return;  // shared (tied) weights: packed once
      todo.emplace_back(&w, total);
      total += (kernels::packed_bytes(w.type, w.n_in, w.n_out) + 63) / 64 * 64;
    };
    for (const LlamaLayer& L : layers_)
      for (const WeightView* w : {&L.wq, &L.wk, &L.wv, &L.wqkv, &L.wo, &L.w_gate, &L.w_up, &L.w_gate_up, &L.w_down})
        plan(*w);
    plan(output_);
    if (todo.empty()) return;
    pack_arena_ = kernels::alloc_weight_buffer(static_cast<size_t>(total));
    // In parallel, a matrix per task: repacking (and the first touch of the
    // buffer's pages) is most of a model's load time once the file is in the
    // page cache.
    std::vector<kernels::PackedWeight> done(todo.size());
    std::optional<ThreadPool> own;
    ThreadPool* on = pool ? pool : &own.emplace(ThreadPool::default_threads());
    on->parallel_for(static_cast<int64_t>(todo.size()), [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const auto& [w, at] = todo[static_cast<size_t>(i)];
        done[static_cast<size_t>(i)] =
            kernels::pack_weight_into(pack_arena_.get() + at, w->type, w->data, w->row_bytes, w->n_in, w->n_out);
      }
    });
    for (size_t i = 0; i < todo.size(); ++i) packed_.emplace(todo[i].first->data, std::move(done[i]));
  });
}

WeightView LlamaModel::with_packed(const WeightView& w, ThreadPool* pool) const {
  prepare_packed(pool);
  WeightView v = w;
  auto it = packed_.find(w.data);
  if (it != packed_.end()) v.packed = &it->second;
  return v;
}

namespace {

// Physical memory in bytes, 0 if unknown.
int64_t physical_memory_bytes() {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) return static_cast<int64_t>(pages) * page;
#endif
  return 0;
}

}  // namespace

Result<std::unique_ptr<LlamaContext>> LlamaContext::create(std::shared_ptr<const LlamaModel> model,
                                                           const Options& o) {
  if (!model) return Error{"LlamaContext: no model"};
  int64_t n_ctx = o.n_ctx;
  const int64_t train = model->config().n_ctx;
  if (n_ctx <= 0) n_ctx = train > 0 ? std::min<int64_t>(train, 4096) : 2048;
  if (n_ctx > (int64_t{1} << 20)) return Error{fmt::format("context of {} tokens is too large", n_ctx)};
  const ModelConfig& c = model->config();
  const int64_t kv_bytes = 2 * c.n_layer * n_ctx * c.head_dim() * c.n_head_kv * static_cast<int64_t>(sizeof(float));
  const int64_t limit = o.max_kv_bytes > 0 ? o.max_kv_bytes : physical_memory_bytes();
  if (limit > 0 && kv_bytes > limit)
    return Error{fmt::format("a context of {} tokens needs a {:.2f} GiB KV cache, more than the {:.2f} GiB {} (use a smaller -c)",
                             n_ctx, kv_bytes / double(1 << 30), limit / double(1 << 30),
                             o.max_kv_bytes > 0 ? "allowed" : "of memory on this machine")};
  const int64_t n_batch = std::clamp<int64_t>(o.n_batch, 1, 4096);
  const int n_threads = o.n_threads > 0 ? o.n_threads : ThreadPool::default_threads();
  return std::unique_ptr<LlamaContext>(new LlamaContext(std::move(model), n_ctx, n_batch, n_threads, o.act_quant));
}

LlamaContext::LlamaContext(std::shared_ptr<const LlamaModel> model, int64_t n_ctx, int64_t n_batch, int n_threads,
                           kernels::ActQuant act_quant)
    : model_(std::move(model)), n_ctx_(n_ctx), n_batch_(n_batch), act_quant_(act_quant), pool_(n_threads) {
  const ModelConfig& c = model_->config();
  kv_dim_ = c.head_dim() * c.n_head_kv;
  k_cache_.assign(static_cast<size_t>(c.n_layer * n_ctx_ * kv_dim_), 0.0f);
  v_cache_.assign(k_cache_.size(), 0.0f);
  const size_t B = static_cast<size_t>(n_batch_);
  x_.resize(B * c.n_embd);
  xn_.resize(B * c.n_embd);
  q_.resize(B * c.n_embd);
  att_out_.resize(B * c.n_embd);
  gate_.resize(B * c.n_ff);
  up_.resize(B * c.n_ff);
  if (!model_->layers().empty() && model_->layers()[0].wqkv.data) qkv_.resize(B * (c.n_embd + 2 * kv_dim_));
  if (!model_->layers().empty() && model_->layers()[0].w_gate_up.data) gate_up_.resize(B * 2 * c.n_ff);
  scores_.resize(static_cast<size_t>(pool_.size() * (c.n_head / c.n_head_kv) * n_ctx_));  // a K/V head's query heads
  if (act_quant_ != kernels::ActQuant::kNone && c.n_embd % kernels::kActBlock == 0 && c.n_ff % kernels::kActBlock == 0)
    xq_.resize(B * static_cast<size_t>(std::max(c.n_embd, c.n_ff) / kernels::kActBlock));
}

void LlamaContext::truncate(int64_t n) { n_past_ = std::clamp<int64_t>(n, 0, n_past_); }

Status LlamaContext::eval(const int32_t* tokens, int64_t n, bool all_logits) {
  const int64_t vocab = n_vocab();
  if (n <= 0) return Error{"eval: no tokens"};
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      return Error{fmt::format("eval: token id {} at index {} is outside the vocabulary (0..{})", tokens[i], i,
                               vocab - 1)};
  if (n_past_ + n > n_ctx_)
    return Error{fmt::format("eval: {} cached + {} new tokens exceed the context of {} (use -c)", n_past_, n, n_ctx_)};
  n_logit_rows_ = all_logits ? n : 1;
  logits_.resize(static_cast<size_t>(n_logit_rows_ * vocab));
  for (int64_t i = 0; i < n; i += n_batch_) {
    const int64_t b = std::min(n_batch_, n - i);
    const bool last = i + b == n;
    if (all_logits || last) eval_batch(tokens + i, b, all_logits, all_logits ? i : 0);
    else eval_batch(tokens + i, b, false, -1);
  }
  return {};
}

void LlamaContext::eval_batch(const int32_t* tokens, int64_t B, bool all_logits, int64_t logit_row0) {
  const LlamaModel& M = *model_;
  const ModelConfig& c = M.config();
  const int64_t E = c.n_embd, V = c.n_vocab;
  const float eps = static_cast<float>(c.rms_eps);

  embed(tokens, B, x_.data());
  for (int64_t l = 0; l < c.n_layer; ++l)
    layer_forward(M.layers()[static_cast<size_t>(l)], l, x_.data(), B, observer_ ? &observer_ : nullptr);
  n_past_ += B;

  if (logit_row0 < 0) return;
  const int64_t first = all_logits ? 0 : B - 1;
  for (int64_t t = first; t < B; ++t) kernels::rmsnorm(&x_[t * E], M.output_norm().data(), &xn_[t * E], E, eps);
  matmul(M.output(), &xn_[first * E], B - first, &logits_[static_cast<size_t>(logit_row0 * V)], V);
}

void LlamaContext::embed(const int32_t* tokens, int64_t n, float* x) const {
  const int64_t E = model_->config().n_embd;
  for (int64_t t = 0; t < n; ++t) kernels::dequantize_weight_row(model_->token_embd(), tokens[t], x + t * E);
}

Status LlamaContext::run_layer(int64_t l, const LlamaLayer& weights, float* x, int64_t n, const LinearObserver* obs) {
  if (l < 0 || l >= model_->config().n_layer) return Error{fmt::format("run_layer: no layer {}", l)};
  if (n <= 0 || n > n_batch_ || n > n_ctx_)
    return Error{fmt::format("run_layer: {} tokens; the context holds at most {} per call (n_batch {}, n_ctx {})", n,
                             std::min(n_batch_, n_ctx_), n_batch_, n_ctx_)};
  n_past_ = 0;  // the sequence starts at position 0 and owns the cache
  layer_forward(weights, l, x, n, obs);
  n_past_ = n;
  return {};
}

// One decoder layer over B tokens at positions n_past_ .. n_past_ + B - 1: x
// (B rows of n_embd) is updated in place; layer l's cache rows are written.
void LlamaContext::layer_forward(const LlamaLayer& L, int64_t l, float* x, int64_t B, const LinearObserver* obs) {
  const LlamaModel& M = *model_;
  const ModelConfig& c = M.config();
  const int64_t E = c.n_embd, hd = c.head_dim(), kv = kv_dim_, F = c.n_ff;
  const int64_t group = c.n_head / c.n_head_kv;
  const float eps = static_cast<float>(c.rms_eps), scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const float base = static_cast<float>(c.rope_freq_base);
  auto observe = [&](LinearInput slot, const float* in, int64_t n_in) {
    if (obs) (*obs)(l, slot, in, B, n_in);
  };

  per_token(B, [&](int64_t t) {
    kernels::rmsnorm(&x[t * E], L.attn_norm.data(), &xn_[t * E], E, eps);
    quantize_row(&xn_[t * E], t, E);
  });
  observe(LinearInput::kAttn, xn_.data(), E);
  // K and V go straight into the cache rows of positions n_past_ .. + B - 1;
  // biases and RoPE are then applied there.
  float* kc = &k_cache_[static_cast<size_t>(l * n_ctx_ * kv)];
  float* vc = &v_cache_[static_cast<size_t>(l * n_ctx_ * kv)];
  const kernels::QuantizedInput in = quantized(xn_.data(), B, E);
  const int64_t W = E + 2 * kv;
  if (L.wqkv.data) {
    matmul(L.wqkv, in, qkv_.data(), W);
  } else {
    matmul_many(in, {{&L.wq, q_.data(), E}, {&L.wk, kc + n_past_ * kv, kv}, {&L.wv, vc + n_past_ * kv, kv}});
  }
  per_token(B, [&](int64_t t) {
    const int64_t pos = n_past_ + t;
    float* kt = kc + pos * kv;
    float* vt = vc + pos * kv;
    if (L.wqkv.data) {
      std::memcpy(&q_[t * E], &qkv_[t * W], E * sizeof(float));
      std::memcpy(kt, &qkv_[t * W + E], kv * sizeof(float));
      std::memcpy(vt, &qkv_[t * W + E + kv], kv * sizeof(float));
    }
    if (!L.bq.empty()) kernels::add(&q_[t * E], L.bq.data(), E);
    if (!L.bk.empty()) kernels::add(kt, L.bk.data(), kv);
    if (!L.bv.empty()) kernels::add(vt, L.bv.data(), kv);
    kernels::rope(&q_[t * E], c.n_head, hd, c.n_rot, pos, base, M.rope_freq_scale(), M.rope_neox());
    kernels::rope(kt, c.n_head_kv, hd, c.n_rot, pos, base, M.rope_freq_scale(), M.rope_neox());
  });
  // Causal attention. A work item is one token and the query heads of one
  // K/V head (so its K and V rows are read once for all of them), split in
  // parts when there would be fewer than two items per thread.
  const int64_t want = std::clamp<int64_t>((2 * pool_.size() + B * c.n_head_kv - 1) / (B * c.n_head_kv), 1, group);
  const int64_t heads = (group + want - 1) / want;  // query heads per item
  const int64_t parts = (group + heads - 1) / heads;  // every part holds at least one head
  pool_.parallel_for(B * c.n_head_kv * parts, [&](int ti, int64_t i0, int64_t i1) {
    float* sc = &scores_[static_cast<size_t>(ti * group * n_ctx_)];
    for (int64_t it = i0; it < i1; ++it) {
      const int64_t t = it / (c.n_head_kv * parts), kvh = it / parts % c.n_head_kv;
      const int64_t h0 = kvh * group + it % parts * heads, nh = std::min(heads, (kvh + 1) * group - h0);
      kernels::attention_heads(&q_[t * E + h0 * hd], nh, kc + kvh * hd, vc + kvh * hd, kv, n_past_ + t + 1, hd,
                               scale, sc, &att_out_[t * E + h0 * hd]);
    }
  });
  observe(LinearInput::kAttnOut, att_out_.data(), E);
  matmul(L.wo, att_out_.data(), B, xn_.data(), E);
  per_token(B, [&](int64_t t) {
    kernels::add(&x[t * E], &xn_[t * E], E);
    kernels::rmsnorm(&x[t * E], L.ffn_norm.data(), &xn_[t * E], E, eps);
    quantize_row(&xn_[t * E], t, E);
  });
  observe(LinearInput::kFfn, xn_.data(), E);
  const kernels::QuantizedInput in_ffn = quantized(xn_.data(), B, E);
  if (L.w_gate_up.data) {
    matmul(L.w_gate_up, in_ffn, gate_up_.data(), 2 * F);
    for (int64_t t = 0; t < B; ++t) {
      std::memcpy(&gate_[t * F], &gate_up_[t * 2 * F], F * sizeof(float));
      std::memcpy(&up_[t * F], &gate_up_[t * 2 * F + F], F * sizeof(float));
    }
  } else {
    matmul_many(in_ffn, {{&L.w_gate, gate_.data(), F}, {&L.w_up, up_.data(), F}});
  }
  per_token(B, [&](int64_t t) {
    kernels::swiglu(&gate_[t * F], &up_[t * F], F);
    quantize_row(&gate_[t * F], t, F);
  });
  observe(LinearInput::kFfnDown, gate_.data(), F);
  matmul(L.w_down, quantized(gate_.data(), B, F), xn_.data(), E);
  per_token(B, [&](int64_t t) { kernels::add(&x[t * E], &xn_[t * E], E); });
}

}  // namespace slimlm
