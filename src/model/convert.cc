#include "model/convert.h"

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "io/gguf_writer.h"
#include "core/thread_pool.h"
#include "model/tensor_rows.h"
#include "model/vq_tensors.h"
#include "quant/slim_formats.h"
#include "quant/codec.h"

namespace slimlm {
namespace {

bool is_quantized(DType t) { return traits(t).block_size > 1; }

GgufArray string_array(const std::vector<std::string>& v) {
  GgufArray a{GgufType::STRING, {}};
  a.items.reserve(v.size());
  for (const auto& s : v) a.items.emplace_back(s);
  return a;
}

}  // namespace

uint32_t gguf_file_type(DType t) {
  switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q4_0: return 2;
    case DType::Q4_1: return 3;
    case DType::Q8_0: return 7;
    case DType::Q5_0: return 8;
    case DType::Q5_1: return 9;
    case DType::Q2_K: return 10;
    case DType::Q3_K: return 12;  // Q3_K_M
    case DType::Q4_K: return 15;  // Q4_K_M
    case DType::Q5_K: return 17;  // Q5_K_M
    case DType::Q6_K: return 18;
    case DType::IQ4_NL: return 25;
    case DType::IQ4_XS: return 30;
    case DType::BF16: return 32;
    default: return 0;
  }
}

DType choose_tensor_type(const TensorRef& t, std::optional<DType> requested, std::string* note) {
  if (!requested) return t.type;
  // Like llama.cpp: 1-D tensors (norms, biases) stay F32.
  if (t.shape.size() < 2) return t.type == DType::F16 || t.type == DType::BF16 ? DType::F32 : t.type;
  const DType want = *requested;
  const auto n = static_cast<uint64_t>(t.shape[0]);
  auto usable = [&](DType d) { return row_bytes(d, n).has_value() && (can_quantize(d) || is_vq_type(d)); };
  if (usable(want)) return want;
  // llama.cpp's fallbacks for rows that 256-element super-blocks cannot hold,
  // then F16, then F32.
  std::vector<DType> chain;
  switch (want) {
    case DType::Q2_K: case DType::Q3_K: case DType::IQ4_XS: chain = {DType::IQ4_NL}; break;
    case DType::Q4_K: chain = {DType::Q5_0}; break;
    case DType::Q5_K: chain = {DType::Q5_1}; break;
    case DType::Q6_K: chain = {DType::Q8_0}; break;
    default:
      // slimlm's group types: the same kind and bits in smaller groups.
      if (const auto f = slim_format(want))
        for (int g : {64, 32})
          if (g < f->group) chain.push_back(*slim_type(f->kind, f->bits, g));
      break;
  }
  chain.push_back(DType::F16);
  chain.push_back(DType::F32);
  for (DType d : chain)
    if (usable(d)) {
      if (note) {
        *note = row_bytes(want, n)
                    ? fmt::format("slimlm cannot write {} yet: stored as {}", dtype_name(want), dtype_name(d))
                    : fmt::format("row length {} is not a multiple of {}'s block of {}: stored as {}", n,
                                  dtype_name(want), traits(want).block_size, dtype_name(d));
      }
      return d;
    }
  return DType::F32;
}

GgufKV gguf_metadata(const ModelDesc& m) {
  GgufWriter w;  // used as an ordered key/value map
  // Keep what a GGUF source said (its provenance keys), then overwrite what we own.
  for (const auto& [k, v] : m.source_kv)
    if (k != "general.file_type" && k != "general.quantization_version" && k != "general.alignment") w.set(k, v);
  const ModelConfig& c = m.config;
  const std::string a = c.arch + ".";
  w.set("general.architecture", c.arch);
  if (!c.name.empty()) w.set("general.name", c.name);
  if (m.source_kv.empty()) {
    w.set(a + "context_length", static_cast<uint32_t>(c.n_ctx));
    w.set(a + "embedding_length", static_cast<uint32_t>(c.n_embd));
    w.set(a + "block_count", static_cast<uint32_t>(c.n_layer));
    w.set(a + "feed_forward_length", static_cast<uint32_t>(c.n_ff));
    w.set(a + "rope.dimension_count", static_cast<uint32_t>(c.n_rot));
    w.set(a + "attention.head_count", static_cast<uint32_t>(c.n_head));
    w.set(a + "attention.head_count_kv", static_cast<uint32_t>(c.n_head_kv));
    w.set(a + "rope.freq_base", static_cast<float>(c.rope_freq_base));
    w.set(a + "attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_eps));
    w.set(a + "vocab_size", static_cast<uint32_t>(c.n_vocab));
    if (!c.rope_scaling.empty() && c.rope_scaling != "default") {
      w.set(a + "rope.scaling.type", c.rope_scaling);
      if (c.rope_scaling_factor > 0) w.set(a + "rope.scaling.factor", static_cast<float>(c.rope_scaling_factor));
      if (c.rope_orig_ctx > 0) w.set(a + "rope.scaling.original_context_length", static_cast<uint32_t>(c.rope_orig_ctx));
    }
    const TokenizerDesc& t = m.tokenizer;
    if (!t.empty()) {
      w.set("tokenizer.ggml.model", t.model);
      if (!t.pre.empty()) w.set("tokenizer.ggml.pre", t.pre);
      w.set("tokenizer.ggml.tokens", string_array(t.tokens));
      GgufArray scores{GgufType::F32, {}}, types{GgufType::I32, {}};
      for (float s : t.scores) scores.items.emplace_back(s);
      for (int32_t x : t.token_types) types.items.emplace_back(x);
      if (!t.scores.empty()) w.set("tokenizer.ggml.scores", scores);
      if (!t.token_types.empty()) w.set("tokenizer.ggml.token_type", types);
      if (!t.merges.empty()) w.set("tokenizer.ggml.merges", string_array(t.merges));
      if (t.bos >= 0) w.set("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(t.bos));
      if (t.eos >= 0) w.set("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(t.eos));
      if (t.unk >= 0) w.set("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(t.unk));
      if (t.pad >= 0) w.set("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(t.pad));
      if (t.add_bos) w.set("tokenizer.ggml.add_bos_token", *t.add_bos);
      if (t.add_eos) w.set("tokenizer.ggml.add_eos_token", *t.add_eos);
      if (!t.chat_template.empty()) w.set("tokenizer.chat_template", t.chat_template);
    }
  }
  return w.kv();
}

Status convert_to_gguf(const ModelDesc& m, const std::string& out_path, const ConvertOptions& opts) {
  if (m.tensors.empty()) return Error{fmt::format("{}: the model has no tensors", m.path)};
  GgufWriter w;
  for (auto& [k, v] : gguf_metadata(m)) w.set(k, v);

  std::vector<DType> types;
  std::vector<std::string> notes;
  std::map<DType, uint64_t> weight_elems;  // 2-D elements per stored type
  bool any_quant = false;
  for (const auto& t : m.tensors) {
    std::string note;
    DType d = choose_tensor_type(t, opts.type_for ? opts.type_for(t) : opts.type, &note);
    types.push_back(d);
    notes.push_back(note);
    any_quant = any_quant || is_quantized(d);
    if (t.shape.size() >= 2) weight_elems[d] += t.n_elements();
    SLIMLM_RETURN_IF_ERROR(w.add_tensor(t.name, t.shape, d));
    if (is_vq_type(d)) SLIMLM_RETURN_IF_ERROR(add_vq_aux_tensors(w, t.name, d, t.n_rows()));
  }
  // general.file_type names the type holding most weights (llama.cpp's ftype).
  DType dominant = opts.type.value_or(DType::F32);
  uint64_t most = 0;
  for (const auto& [d, n] : weight_elems) {
    if (n > most) {
      most = n;
      dominant = d;
    }
  }
  w.set("general.file_type", opts.file_type.value_or(gguf_file_type(dominant)));
  if (any_quant) w.set("general.quantization_version", uint32_t{2});

  // k-means for VQ tensors runs on a pool, made only when one is needed.
  std::unique_ptr<ThreadPool> pool;
  if (std::any_of(types.begin(), types.end(), is_vq_type))
    pool = std::make_unique<ThreadPool>(opts.n_threads > 0 ? opts.n_threads : ThreadPool::default_threads());
  VqFitOptions vq_opts = opts.vq;
  vq_opts.pool = pool.get();

  SLIMLM_RETURN_IF_ERROR(w.begin(out_path));
  constexpr size_t kChunkFloats = 1 << 20;  // convert ~4 MiB of weights at a time
  std::vector<float> f32;
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i < m.tensors.size(); ++i) {
    const TensorRef& t = m.tensors[i];
    const DType d = types[i];
    if (opts.on_tensor) opts.on_tensor(i, m.tensors.size(), t.name, d, notes[i]);
    if (is_vq_type(d)) {
      SLIMLM_RETURN_IF_ERROR(write_vq_tensor(w, t, d, vq_opts));
      continue;
    }
    const int64_t n = t.shape[0], rows = t.n_rows();
    const int64_t chunk = std::max<int64_t>(1, static_cast<int64_t>(kChunkFloats) / std::max<int64_t>(n, 1));
    const uint64_t out_rb = *row_bytes(d, static_cast<uint64_t>(n));
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
      const int64_t r1 = std::min(rows, r0 + chunk);
      bytes.resize(static_cast<size_t>(r1 - r0) * out_rb);
      if (d == t.type) {
        SLIMLM_RETURN_IF_ERROR(read_rows_raw(t, r0, r1, bytes.data()));
      } else {
        f32.resize(static_cast<size_t>((r1 - r0) * n));
        SLIMLM_RETURN_IF_ERROR(read_rows_f32(t, r0, r1, f32.data()));
        if (opts.quantize_rows && d != DType::F32) {
          Status st = opts.quantize_rows(t, d, f32.data(), r1 - r0, n, bytes.data());
          if (!st.ok()) return Error{fmt::format("{}: {}", t.origin, st.message())};
        } else {
          for (int64_t r = 0; r < r1 - r0; ++r) {
            Status st = quantize_row(d, f32.data() + r * n, bytes.data() + r * out_rb, n);
            if (!st.ok()) return Error{fmt::format("{}: {}", t.origin, st.message())};
          }
        }
      }
      SLIMLM_RETURN_IF_ERROR(w.write(bytes.data(), bytes.size()));
    }
  }
  return w.finish();
}

}  // namespace slimlm
