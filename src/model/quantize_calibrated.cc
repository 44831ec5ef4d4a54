#include "model/quantize_calibrated.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <map>
#include <cstring>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "core/thread_pool.h"
#include "model/calib_stats.h"
#include "model/convert.h"
#include "model/llama.h"
#include "quant/codec.h"
#include "quant/vq.h"

namespace slimlm {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// One linear layer of a decoder block, in the engine's (native) row order.
struct Mat {
  const char* suffix;  // "attn_q" ...
  kernels::WeightView LlamaLayer::*view;
  LinearInput slot;
  std::vector<float> w;  // [n_out][n_in], float
  DType type = DType::F32;
  std::shared_ptr<std::vector<uint8_t>> bytes;
};

std::vector<float> to_float(const kernels::WeightView& v) {
  std::vector<float> w(static_cast<size_t>(v.n_out * v.n_in));
  for (int64_t r = 0; r < v.n_out; ++r) kernels::dequantize_weight_row(v, r, w.data() + r * v.n_in);
  return w;
}

// Replaces tensor `name` of d by `bytes` of `type` (same shape).
Status replace_tensor(ModelDesc& d, const std::string& name, DType type, std::shared_ptr<const void> keep,
                      const uint8_t* data, uint64_t n_bytes) {
  for (auto& t : d.tensors) {
    if (t.name != name) continue;
    t.type = type;
    t.data = data;
    t.n_bytes = n_bytes;
    t.vq.reset();
    t.origin = name + " (calibrated)";
    d.keep_alive.push_back(std::move(keep));
    return {};
  }
  return Error{fmt::format("calibration: the model has no tensor {}", name)};
}

Status replace_f32(ModelDesc& d, const std::string& name, std::vector<float> v) {
  auto buf = std::make_shared<std::vector<float>>(std::move(v));
  const auto* p = reinterpret_cast<const uint8_t*>(buf->data());
  return replace_tensor(d, name, DType::F32, buf, p, buf->size() * sizeof(float));
}

}  // namespace

Status quantize_rows_parallel(ThreadPool& pool, DType t, const float* w, int64_t rows, int64_t n, uint8_t* dst,
                              const RowQuantFn& q) {
  const uint64_t rb = *row_bytes(t, static_cast<uint64_t>(n));
  std::mutex mu;
  Status first;
  pool.parallel_for(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      Status st = q(t, w + i * n, n, dst + i * rb);
      if (!st.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first.ok()) first = st;
        return;
      }
    }
  });
  return first;
}

std::vector<std::vector<int32_t>> calibration_sequences(const std::vector<int32_t>& text_tokens, int32_t bos,
                                                        int64_t n_ctx, int64_t max_tokens) {
  std::vector<std::vector<int32_t>> out;
  if (n_ctx < 2) return out;
  const int64_t body = bos >= 0 ? n_ctx - 1 : n_ctx;
  for (size_t p = 0; p + static_cast<size_t>(body) <= text_tokens.size(); p += static_cast<size_t>(body)) {
    if (max_tokens > 0 && static_cast<int64_t>(out.size() + 1) * n_ctx > max_tokens) break;
    std::vector<int32_t> s;
    if (bos >= 0) s.push_back(bos);
    s.insert(s.end(), text_tokens.begin() + static_cast<std::ptrdiff_t>(p),
             text_tokens.begin() + static_cast<std::ptrdiff_t>(p + body));
    out.push_back(std::move(s));
  }
  return out;
}

Result<ModelDesc> quantize_layers_calibrated(const ModelDesc& m, const QuantRecipe& r, const CalibratedOptions& o,
                                             CalibratedReport* report) {
  if (o.sequences.empty()) return Error{"calibration: no calibration sequences (is the text shorter than one context?)"};
  if (!o.row_quant) return Error{"calibration: no rounding method (row_quant)"};
  SLIMLM_ASSIGN_OR_RETURN(auto model, LlamaModel::create(m));
  const ModelConfig& c = model->config();
  for (const auto& L : model->layers())
    if (L.wqkv.data || L.w_gate_up.data)
      return Error{fmt::format("calibration: {} stores fused qkv / gate_up matrices (phi3); calibrated methods "
                               "support separate q, k, v, gate, up so far", m.path)};
  int64_t n_ctx = 0;
  for (const auto& s : o.sequences) n_ctx = std::max<int64_t>(n_ctx, static_cast<int64_t>(s.size()));
  if (c.n_ctx > 0 && n_ctx > c.n_ctx)
    return Error{fmt::format("calibration: sequences of {} tokens exceed the model's context of {}", n_ctx, c.n_ctx)};
  LlamaContext::Options co;
  co.n_ctx = n_ctx;
  co.n_batch = n_ctx;
  co.n_threads = o.threads;
  SLIMLM_ASSIGN_OR_RETURN(auto ctx, LlamaContext::create(model, co));
  std::unique_ptr<ThreadPool> own_pool;
  if (!o.pool) own_pool = std::make_unique<ThreadPool>(std::max(1, o.threads));
  ThreadPool& pool = o.pool ? *o.pool : *own_pool;
  CalibratedReport rep;
  const auto started = Clock::now();
  auto stage = [&](const std::string& s) {  // with the time since the calibration started
    if (o.on_stage)
      o.on_stage(fmt::format("{} (at {:.1f} s)", s, std::chrono::duration<double>(Clock::now() - started).count()));
  };

  const int64_t E = c.n_embd;
  std::vector<std::vector<float>> states(o.sequences.size());
  int64_t n_tokens = 0;
  for (size_t s = 0; s < o.sequences.size(); ++s) {
    const auto& seq = o.sequences[s];
    for (int32_t t : seq)
      if (t < 0 || t >= c.n_vocab) return Error{fmt::format("calibration: token {} is outside the vocabulary", t)};
    states[s].resize(seq.size() * static_cast<size_t>(E));
    ctx->embed(seq.data(), static_cast<int64_t>(seq.size()), states[s].data());
    n_tokens += static_cast<int64_t>(seq.size());
  }

  ModelDesc out = m;
  std::vector<float> tmp;
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const LlamaLayer& Lf = model->layers()[static_cast<size_t>(l)];
    const std::string pre = fmt::format("blk.{}.", l);
    std::vector<Mat> mats = {{"attn_q", &LlamaLayer::wq, LinearInput::kAttn, {}, DType::F32, nullptr},
                             {"attn_k", &LlamaLayer::wk, LinearInput::kAttn, {}, DType::F32, nullptr},
                             {"attn_v", &LlamaLayer::wv, LinearInput::kAttn, {}, DType::F32, nullptr},
                             {"attn_output", &LlamaLayer::wo, LinearInput::kAttnOut, {}, DType::F32, nullptr},
                             {"ffn_gate", &LlamaLayer::w_gate, LinearInput::kFfn, {}, DType::F32, nullptr},
                             {"ffn_up", &LlamaLayer::w_up, LinearInput::kFfn, {}, DType::F32, nullptr},
                             {"ffn_down", &LlamaLayer::w_down, LinearInput::kFfnDown, {}, DType::F32, nullptr}};
    auto find = [&](const char* suffix) -> Mat& {
      for (auto& mt : mats)
        if (std::string(mt.suffix) == suffix) return mt;
      return mats.front();
    };
    for (auto& mt : mats) {
      const std::string name = pre + mt.suffix + ".weight";
      const TensorRef* tr = m.find(name);
      if (!tr) return Error{fmt::format("calibration: the model has no tensor {}", name)};
      if (is_vq_type(tr->type)) return Error{fmt::format("calibration: {} is vector-quantized; start from a float model", name)};
      std::string note;
      mt.type = choose_tensor_type(*tr, recipe_type(r, *tr, c), &note);
      mt.w = to_float(Lf.*mt.view);
    }
    std::vector<float> attn_norm = Lf.attn_norm, ffn_norm = Lf.ffn_norm, bv = Lf.bv;

    // 1. Statistics of the linear inputs, with this layer in full precision.
    stage(fmt::format("layer {}/{}: statistics over {} tokens", l + 1, c.n_layer, n_tokens));
    auto t0 = Clock::now();
    LayerStatsOptions so;
    so.hessian = static_cast<bool>(o.gptq);
    so.max_sample = o.awq ? 512 : 0;
    so.sample_stride = n_tokens / 512;  // spread over all the data (LayerStats makes it odd)
    LayerStats st(c, so, &pool);
    const LinearObserver obs = st.observer();
    for (size_t s = 0; s < states.size(); ++s) {
      tmp = states[s];
      SLIMLM_RETURN_IF_ERROR(ctx->run_layer(l, Lf, tmp.data(), static_cast<int64_t>(o.sequences[s].size()), &obs));
    }
    st.finish();
    rep.seconds_stats += since(t0);

    // 2. AWQ: scale salient input channels up, fold the inverse into the producer.
    std::array<std::vector<float>, 4> slot_scale;  // AWQ's s per input slot (empty: 1)
    if (o.awq) {
      stage(fmt::format("layer {}/{}: awq scale search", l + 1, c.n_layer));
      t0 = Clock::now();
      struct Group {
        LinearInput slot;
        std::vector<const char*> consumers;
      };
      std::vector<Group> groups = {{LinearInput::kAttn, {"attn_q", "attn_k", "attn_v"}},
                                   {LinearInput::kFfn, {"ffn_gate", "ffn_up"}},
                                   {LinearInput::kFfnDown, {"ffn_down"}}};
      // attn_output's input is a mix of v rows only without grouped-query attention.
      if (c.n_head == c.n_head_kv) groups.push_back({LinearInput::kAttnOut, {"attn_output"}});
      for (const Group& g : groups) {
        SlotStats& ss = st.slot(g.slot);
        const int64_t n_in = ss.n_in;
        std::vector<double> mean_abs(ss.abs_sum.size());
        for (size_t j = 0; j < mean_abs.size(); ++j) mean_abs[j] = ss.abs_sum[j] / std::max<int64_t>(1, ss.n_tokens);
        std::vector<AwqMatrix> group;
        std::vector<DType> types;
        for (const char* cname : g.consumers) {
          Mat& mt = find(cname);
          group.push_back({mt.w.data(), (Lf.*mt.view).n_out});
          types.push_back(mt.type);
        }
        const QuantDequant qdq = [&](size_t k, float* w, int64_t rows, int64_t cols) -> Status {
          const DType t = types[k];
          if (t == DType::F32) return {};
          const uint64_t rb = *row_bytes(t, static_cast<uint64_t>(cols));
          std::vector<uint8_t> q(rb);
          for (int64_t i = 0; i < rows; ++i) {
            SLIMLM_RETURN_IF_ERROR(o.row_quant(t, w + i * cols, cols, q.data()));
            SLIMLM_RETURN_IF_ERROR(dequantize_row(t, q.data(), w + i * cols, cols));
          }
          return {};
        };
        SLIMLM_ASSIGN_OR_RETURN(AwqResult ar, awq_search(group, n_in, ss.sample.data(), ss.sample_rows(), mean_abs,
                                                         qdq, o.awq_options, &pool));
        rep.awq_alpha.push_back(ar.alpha);
        rep.awq_loss_plain += ar.loss_plain;
        rep.awq_loss += ar.loss;
        const std::vector<float>& s = ar.scales;
        slot_scale[static_cast<size_t>(g.slot)] = s;
        for (const char* cname : g.consumers) {
          Mat& mt = find(cname);
          const int64_t rows = (Lf.*mt.view).n_out;
          for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j < n_in; ++j) mt.w[static_cast<size_t>(i * n_in + j)] *= s[static_cast<size_t>(j)];
        }
        auto scale_rows = [&](Mat& producer) {  // output channel j of the producer feeds input j
          for (int64_t j = 0; j < n_in; ++j)
            for (int64_t k = 0; k < (Lf.*producer.view).n_in; ++k)
              producer.w[static_cast<size_t>(j * (Lf.*producer.view).n_in + k)] /= s[static_cast<size_t>(j)];
        };
        switch (g.slot) {
          case LinearInput::kAttn:
            for (int64_t j = 0; j < n_in; ++j) attn_norm[static_cast<size_t>(j)] /= s[static_cast<size_t>(j)];
            break;
          case LinearInput::kFfn:
            for (int64_t j = 0; j < n_in; ++j) ffn_norm[static_cast<size_t>(j)] /= s[static_cast<size_t>(j)];
            break;
          case LinearInput::kFfnDown: scale_rows(find("ffn_up")); break;
          case LinearInput::kAttnOut:
            scale_rows(find("attn_v"));
            for (size_t j = 0; j < bv.size(); ++j) bv[j] /= s[j];
            break;
        }
        if (!ss.h.empty())  // the inputs are now x / s
          for (int64_t i = 0; i < n_in; ++i)
            for (int64_t j = 0; j < n_in; ++j)
              ss.h[static_cast<size_t>(i * n_in + j)] /= static_cast<double>(s[static_cast<size_t>(i)]) * s[static_cast<size_t>(j)];
      }
      // AWQ's clipping search (with row-wise rounding; GPTQ corrects errors itself).
      if (!o.gptq && o.awq_options.clip) {
        stage(fmt::format("layer {}/{}: awq clipping search", l + 1, c.n_layer));
        for (auto& mt : mats) {
          if (traits(mt.type).block_size <= 1) continue;  // float types: nothing to clip for
          const SlotStats& ss = st.slot(mt.slot);
          const int64_t n_in = ss.n_in, stride = 4, m_all = ss.sample_rows();
          std::vector<float> xs;
          const std::vector<float>& sc = slot_scale[static_cast<size_t>(mt.slot)];
          for (int64_t t = 0; t < m_all; t += stride)
            for (int64_t j = 0; j < n_in; ++j)
              xs.push_back(ss.sample[static_cast<size_t>(t * n_in + j)] / (sc.empty() ? 1.0f : sc[static_cast<size_t>(j)]));
          const int64_t block = traits(mt.type).block_size;
          const DType t = mt.type;
          const BlockQuantDequant qdq = [&, t, block](const float* in, float* out) -> Status {
            uint8_t q[512];
            SLIMLM_RETURN_IF_ERROR(o.row_quant(t, in, block, q));
            return dequantize_row(t, q, out, block);
          };
          SLIMLM_RETURN_IF_ERROR(awq_clip(mt.w.data(), (Lf.*mt.view).n_out, n_in, block, xs.data(),
                                          static_cast<int64_t>(xs.size()) / n_in, qdq, 20, &pool));
        }
      }
      rep.seconds_awq += since(t0);
    }

    // 3. Quantize every matrix of the layer.
    stage(fmt::format("layer {}/{}: {}", l + 1, c.n_layer, o.gptq ? "gptq" : "rounding"));
    t0 = Clock::now();
    LlamaLayer Lq = Lf;
    Lq.attn_norm = attn_norm;
    Lq.ffn_norm = ffn_norm;
    Lq.bv = bv;
    for (auto& mt : mats) {
      const kernels::WeightView& v = Lf.*mt.view;
      const uint64_t rb = *row_bytes(mt.type, static_cast<uint64_t>(v.n_in));
      mt.bytes = std::make_shared<std::vector<uint8_t>>(rb * static_cast<uint64_t>(v.n_out));
      uint8_t* dst = mt.bytes->data();
      if (mt.type == DType::F32) {
        std::memcpy(dst, mt.w.data(), mt.bytes->size());
      } else if (o.gptq) {
        SLIMLM_RETURN_IF_ERROR(o.gptq(mt.type, mt.w.data(), v.n_out, v.n_in, st.slot(mt.slot).h.data(), dst));
      } else {
        SLIMLM_RETURN_IF_ERROR(quantize_rows_parallel(pool, mt.type, mt.w.data(), v.n_out, v.n_in, dst, o.row_quant));
      }
      kernels::WeightView q{mt.type, mt.bytes->data(), v.n_in, v.n_out, rb};
      Lq.*mt.view = q;
      mt.w = {};
      SLIMLM_RETURN_IF_ERROR(replace_tensor(out, pre + mt.suffix + ".weight", mt.type, mt.bytes, mt.bytes->data(),
                                            mt.bytes->size()));
    }
    if (o.awq) {
      SLIMLM_RETURN_IF_ERROR(replace_f32(out, pre + "attn_norm.weight", attn_norm));
      SLIMLM_RETURN_IF_ERROR(replace_f32(out, pre + "ffn_norm.weight", ffn_norm));
      if (!bv.empty()) SLIMLM_RETURN_IF_ERROR(replace_f32(out, pre + "attn_v.bias", bv));
    }
    rep.seconds_quant += since(t0);

    // 4. The quantized layer's outputs are the next layer's inputs.
    t0 = Clock::now();
    for (size_t s = 0; s < states.size(); ++s)
      SLIMLM_RETURN_IF_ERROR(ctx->run_layer(l, Lq, states[s].data(), static_cast<int64_t>(o.sequences[s].size())));
    rep.seconds_forward += since(t0);
  }
  if (report) *report = rep;
  return out;
}

}  // namespace slimlm
