// Implementation of include/slimlm/slimlm.h on top of the internal modules.
#include "slimlm/slimlm.h"

#include "model/convert.h"
#include "model/model_desc.h"
#include "quant/codec.h"

namespace slimlm {

const char* version() { return "0.1.0"; }

bool inspect_model(const std::string& path, const std::string& tokenizer, ModelSummary* out, std::string* error) {
  LoadOptions lo;
  lo.tokenizer_path = tokenizer;
  auto r = load_model(path, lo);
  if (!r.ok()) {
    if (error) *error = r.message();
    return false;
  }
  const ModelDesc& m = *r;
  ModelSummary s;
  s.format = m.format;
  s.arch = m.config.arch;
  s.name = m.config.name;
  s.n_vocab = m.config.n_vocab;
  s.n_embd = m.config.n_embd;
  s.n_ff = m.config.n_ff;
  s.n_layer = m.config.n_layer;
  s.n_head = m.config.n_head;
  s.n_head_kv = m.config.n_head_kv;
  s.n_ctx = m.config.n_ctx;
  s.tokenizer_model = m.tokenizer.model;
  s.n_tokens = m.tokenizer.tokens.size();
  for (const auto& t : m.tensors) {
    s.tensors.push_back({t.name, t.shape, std::string(dtype_name(t.type)), t.n_bytes});
    s.n_params += t.n_elements();
    s.n_bytes += t.n_bytes;
  }
  s.bits_per_weight = s.n_params ? 8.0 * static_cast<double>(s.n_bytes) / static_cast<double>(s.n_params) : 0.0;
  *out = std::move(s);
  return true;
}

bool convert_model(const std::string& in_path, const std::string& out_path, const std::string& type,
                   const std::string& tokenizer, std::string* error) {
  ConvertOptions co;
  if (!type.empty()) {
    auto t = dtype_from_name(type);
    if (!t || !(*t == DType::F32 || *t == DType::F16 || *t == DType::BF16 || *t == DType::Q8_0)) {
      if (error) *error = "convert: type '" + type + "' is not one of f32, f16, bf16, q8_0";
      return false;
    }
    co.type = *t;
  }
  LoadOptions lo;
  lo.tokenizer_path = tokenizer;
  auto m = load_model(in_path, lo);
  if (!m.ok()) {
    if (error) *error = m.message();
    return false;
  }
  Status st = convert_to_gguf(*m, out_path, co);
  if (!st.ok() && error) *error = st.message();
  return st.ok();
}

}  // namespace slimlm
