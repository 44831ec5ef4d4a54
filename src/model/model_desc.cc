#include "model/model_desc.h"

#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace slimlm {

uint64_t TensorRef::n_elements() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

int64_t TensorRef::n_rows() const {
  int64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

const TensorRef* ModelDesc::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

namespace {

bool has_suffix(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

bool starts_with_magic(const std::string& path, const char* magic) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char buf[4] = {};
  size_t n = std::fread(buf, 1, 4, f);
  std::fclose(f);
  return n == 4 && std::memcmp(buf, magic, 4) == 0;
}

}  // namespace

Result<ModelDesc> load_model(const std::string& path, const LoadOptions& opts) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) return Error{fmt::format("{}: no such file or directory", path)};
  if (fs::is_directory(path, ec)) return load_safetensors_model(path, opts);
  if (starts_with_magic(path, "GGUF")) return load_gguf_model(path);
  if (has_suffix(path, ".safetensors") || has_suffix(path, ".safetensors.index.json"))
    return load_safetensors_model(path, opts);
  if (has_suffix(path, ".gguf")) return load_gguf_model(path);  // reports the bad magic
  return load_llama2c_model(path, opts);
}

Status validate_llama_tensors(const ModelDesc& m) {
  const ModelConfig& c = m.config;
  if (c.n_embd <= 0 || c.n_layer <= 0 || c.n_head <= 0 || c.n_head_kv <= 0 || c.n_vocab <= 0 || c.n_ff <= 0)
    return Error{fmt::format("{}: incomplete hyper-parameters (n_embd {}, n_layer {}, n_head {}, n_head_kv {}, "
                             "n_vocab {}, n_ff {})",
                             m.path, c.n_embd, c.n_layer, c.n_head, c.n_head_kv, c.n_vocab, c.n_ff)};
  if (c.n_embd % c.n_head != 0 || c.n_head % c.n_head_kv != 0)
    return Error{fmt::format("{}: n_embd {} / n_head {} / n_head_kv {} do not divide", m.path, c.n_embd, c.n_head,
                             c.n_head_kv)};
  const int64_t hd = c.head_dim();
  auto expect = [&](const std::string& name, std::vector<int64_t> shape) -> Status {
    const TensorRef* t = m.find(name);
    if (!t) return Error{fmt::format("{}: tensor '{}' is missing", m.path, name)};
    if (t->shape != shape)
      return Error{fmt::format("{}: tensor '{}' has shape [{}], expected [{}]", m.path, name,
                               fmt::join(t->shape, ", "), fmt::join(shape, ", "))};
    return {};
  };
  SLIMLM_RETURN_IF_ERROR(expect("token_embd.weight", {c.n_embd, c.n_vocab}));
  SLIMLM_RETURN_IF_ERROR(expect("output_norm.weight", {c.n_embd}));
  if (!c.tied_embeddings) SLIMLM_RETURN_IF_ERROR(expect("output.weight", {c.n_embd, c.n_vocab}));
  for (int64_t l = 0; l < c.n_layer; ++l) {
    auto n = [&](const char* s) { return fmt::format("blk.{}.{}.weight", l, s); };
    SLIMLM_RETURN_IF_ERROR(expect(n("attn_norm"), {c.n_embd}));
    SLIMLM_RETURN_IF_ERROR(expect(n("attn_q"), {c.n_embd, c.n_head * hd}));
    SLIMLM_RETURN_IF_ERROR(expect(n("attn_k"), {c.n_embd, c.n_head_kv * hd}));
    SLIMLM_RETURN_IF_ERROR(expect(n("attn_v"), {c.n_embd, c.n_head_kv * hd}));
    SLIMLM_RETURN_IF_ERROR(expect(n("attn_output"), {c.n_head * hd, c.n_embd}));
    SLIMLM_RETURN_IF_ERROR(expect(n("ffn_norm"), {c.n_embd}));
    SLIMLM_RETURN_IF_ERROR(expect(n("ffn_gate"), {c.n_embd, c.n_ff}));
    SLIMLM_RETURN_IF_ERROR(expect(n("ffn_up"), {c.n_embd, c.n_ff}));
    SLIMLM_RETURN_IF_ERROR(expect(n("ffn_down"), {c.n_ff, c.n_embd}));
  }
  return {};
}

}  // namespace slimlm
