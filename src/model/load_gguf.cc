// GGUF -> ModelDesc: hyper-parameters from "<arch>.*" keys, tokenizer from
// "tokenizer.ggml.*", tensors viewed in the mapping.
#include <fmt/format.h>

#include "model/model_desc.h"
#include "model/vq_tensors.h"

namespace slimlm {
namespace {

template <class T, class F>
std::vector<T> array_of(const GgufFile& f, const std::string& key, F&& conv) {
  std::vector<T> out;
  const GgufValue* v = f.find(key);
  if (!v || !v->as_array()) return out;
  out.reserve(v->as_array()->items.size());
  for (const auto& item : v->as_array()->items) out.push_back(conv(item));
  return out;
}

}  // namespace

Result<ModelDesc> load_gguf_model(const std::string& path) {
  SLIMLM_ASSIGN_OR_RETURN(GgufFile f, GgufFile::open(path));
  return model_from_gguf(f);
}

Result<ModelDesc> model_from_gguf(const GgufFile& f) {
  const std::string& path = f.path();
  ModelDesc m;
  m.format = "gguf";
  m.path = path;
  m.source_kv = f.kv();
  m.keep_alive.push_back(f.keep_alive());

  ModelConfig& c = m.config;
  c.arch = f.get_string("general.architecture").value_or("");
  c.name = f.get_string("general.name").value_or("");
  const std::string a = c.arch + ".";
  c.n_embd = f.get_int(a + "embedding_length").value_or(0);
  c.n_ff = f.get_int(a + "feed_forward_length").value_or(0);
  c.n_layer = f.get_int(a + "block_count").value_or(0);
  c.n_head = f.get_int(a + "attention.head_count").value_or(0);
  c.n_head_kv = f.get_int(a + "attention.head_count_kv").value_or(c.n_head);
  c.n_ctx = f.get_int(a + "context_length").value_or(0);
  c.n_rot = f.get_int(a + "rope.dimension_count").value_or(c.head_dim());
  c.rope_freq_base = f.get_float(a + "rope.freq_base").value_or(10000.0);
  c.rms_eps = f.get_float(a + "attention.layer_norm_rms_epsilon").value_or(1e-5);
  c.rope_scaling = f.get_string(a + "rope.scaling.type").value_or("");
  c.rope_scaling_factor = f.get_float(a + "rope.scaling.factor").value_or(0.0);
  c.rope_orig_ctx = f.get_int(a + "rope.scaling.original_context_length").value_or(0);

  TokenizerDesc& t = m.tokenizer;
  t.model = f.get_string("tokenizer.ggml.model").value_or("");
  t.pre = f.get_string("tokenizer.ggml.pre").value_or("");
  auto str = [](const GgufValue& v) { return v.as_string() ? *v.as_string() : std::string(); };
  t.tokens = array_of<std::string>(f, "tokenizer.ggml.tokens", str);
  t.scores = array_of<float>(f, "tokenizer.ggml.scores",
                             [](const GgufValue& v) { return static_cast<float>(v.as_double().value_or(0)); });
  t.token_types = array_of<int32_t>(f, "tokenizer.ggml.token_type",
                                    [](const GgufValue& v) { return static_cast<int32_t>(v.as_int().value_or(1)); });
  t.merges = array_of<std::string>(f, "tokenizer.ggml.merges", str);
  t.bos = f.get_int("tokenizer.ggml.bos_token_id").value_or(-1);
  t.eos = f.get_int("tokenizer.ggml.eos_token_id").value_or(-1);
  t.unk = f.get_int("tokenizer.ggml.unknown_token_id").value_or(-1);
  t.pad = f.get_int("tokenizer.ggml.padding_token_id").value_or(-1);
  // llama.cpp writes "no such token" as u32 0xFFFFFFFF (-1 as int32); any id
  // outside the vocabulary means the same here.
  for (int64_t* id : {&t.bos, &t.eos, &t.unk, &t.pad})
    if (*id < 0 || *id >= static_cast<int64_t>(t.tokens.size())) *id = -1;
  if (auto b = f.get_bool("tokenizer.ggml.add_bos_token")) t.add_bos = *b;
  if (auto b = f.get_bool("tokenizer.ggml.add_eos_token")) t.add_eos = *b;
  t.chat_template = f.get_string("tokenizer.chat_template").value_or("");
  c.n_vocab = f.get_int(a + "vocab_size").value_or(static_cast<int64_t>(t.tokens.size()));

  for (const auto& ti : f.tensors()) {
    TensorRef r;
    r.name = ti.name;
    r.shape = ti.shape;
    r.type = ti.type;
    r.data = f.tensor_data(ti);
    r.n_bytes = ti.n_bytes;
    r.origin = fmt::format("{}:{}", path, ti.name);
    m.tensors.push_back(std::move(r));
  }
  if (c.n_vocab == 0)
    if (const TensorRef* e = m.find("token_embd.weight"); e && e->shape.size() == 2) c.n_vocab = e->shape[1];
  c.tied_embeddings = m.find("output.weight") == nullptr;
  SLIMLM_RETURN_IF_ERROR(attach_vq_tables(m));  // VQ weights take their codebooks along
  return m;
}

}  // namespace slimlm
