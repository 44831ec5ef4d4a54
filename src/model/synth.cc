#include "model/synth.h"

#include <cmath>

#include <fmt/format.h>

#include "io/gguf_writer.h"
#include "model/convert.h"
#include "quant/codec.h"

namespace slimlm {
namespace {

SynthShape make(const char* name, const char* arch, int64_t vocab, int64_t embd, int64_t ff, int64_t layers,
                int64_t heads, int64_t kv_heads, int64_t ctx, double base, double eps, bool tied, bool bias) {
  SynthShape s;
  s.name = name;
  ModelConfig& c = s.config;
  c.arch = arch;
  c.name = std::string("synth-") + name;
  c.n_vocab = vocab;
  c.n_embd = embd;
  c.n_ff = ff;
  c.n_layer = layers;
  c.n_head = heads;
  c.n_head_kv = kv_heads;
  c.n_ctx = ctx;
  c.n_rot = embd / heads;
  c.rope_freq_base = base;
  c.rms_eps = eps;
  c.tied_embeddings = tied;
  s.qkv_bias = bias;
  return s;
}

// Deterministic normal numbers (splitmix64 + Box-Muller), independent of the
// standard library, so a seed gives the same file everywhere.
class Gauss {
 public:
  explicit Gauss(uint64_t seed) : s_(seed) {}
  float next() {
    if (have_) {
      have_ = false;
      return spare_;
    }
    double u1 = (static_cast<double>(bits() >> 11) + 1.0) * 0x1.0p-53, u2 = static_cast<double>(bits() >> 11) * 0x1.0p-53;
    double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = static_cast<float>(r * std::sin(2 * M_PI * u2));
    have_ = true;
    return static_cast<float>(r * std::cos(2 * M_PI * u2));
  }

 private:
  uint64_t bits() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t s_;
  bool have_ = false;
  float spare_ = 0;
};

}  // namespace

const std::vector<SynthShape>& synth_shapes() {
  static const std::vector<SynthShape> shapes = {
      make("stories260k", "llama", 512, 64, 172, 5, 8, 4, 512, 1e4, 1e-5, true, false),
      make("smollm-135m", "llama", 49152, 576, 1536, 30, 9, 3, 2048, 1e4, 1e-5, true, false),
      make("qwen2.5-0.5b", "qwen2", 151936, 896, 4864, 24, 14, 2, 32768, 1e6, 1e-6, true, true),
      make("tinyllama-1.1b", "llama", 32000, 2048, 5632, 22, 32, 4, 2048, 1e4, 1e-5, false, false),
  };
  return shapes;
}

const SynthShape* find_synth_shape(const std::string& name) {
  for (const auto& s : synth_shapes())
    if (s.name == name) return &s;
  return nullptr;
}

Status write_synth_model(const SynthShape& shape, const std::string& out_path, const SynthOptions& opts) {
  const ModelConfig& c = shape.config;
  ModelDesc m;  // a description without data: only names and shapes are used
  m.path = out_path;
  m.config = c;
  m.tokenizer = opts.vocab;
  TokenizerDesc& t = m.tokenizer;
  if (!t.empty()) {
    const auto n = static_cast<size_t>(c.n_vocab);
    t.scores.resize(t.tokens.size(), 0.0f);
    t.token_types.resize(t.tokens.size(), 1);
    for (size_t i = t.tokens.size(); i < n; ++i) {
      t.tokens.push_back(fmt::format("[PAD{}]", i));
      t.scores.push_back(0.0f);
      t.token_types.push_back(5);  // unused
    }
    t.tokens.resize(n);
    t.scores.resize(n);
    t.token_types.resize(n);
    for (int64_t* id : {&t.bos, &t.eos, &t.unk, &t.pad})
      if (*id >= c.n_vocab) *id = -1;
  }
  const int64_t E = c.n_embd, kv = c.head_dim() * c.n_head_kv;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    TensorRef r;
    r.name = std::move(name);
    r.shape = std::move(shape);
    r.type = DType::F32;
    m.tensors.push_back(std::move(r));
  };
  add("token_embd.weight", {E, c.n_vocab});
  add("output_norm.weight", {E});
  if (!c.tied_embeddings) add("output.weight", {E, c.n_vocab});
  for (int64_t l = 0; l < c.n_layer; ++l) {
    auto n = [&](const char* s) { return fmt::format("blk.{}.{}", l, s); };
    add(n("attn_norm.weight"), {E});
    add(n("attn_q.weight"), {E, E});
    add(n("attn_k.weight"), {E, kv});
    add(n("attn_v.weight"), {E, kv});
    if (shape.qkv_bias) {
      add(n("attn_q.bias"), {E});
      add(n("attn_k.bias"), {kv});
      add(n("attn_v.bias"), {kv});
    }
    add(n("attn_output.weight"), {E, E});
    add(n("ffn_norm.weight"), {E});
    add(n("ffn_gate.weight"), {E, c.n_ff});
    add(n("ffn_up.weight"), {E, c.n_ff});
    add(n("ffn_down.weight"), {c.n_ff, E});
  }

  GgufWriter w;
  for (auto& [k, v] : gguf_metadata(m)) w.set(k, v);
  std::vector<DType> types;
  for (const auto& r : m.tensors) {
    DType d = choose_tensor_type(r, opts.type, nullptr);
    types.push_back(d);
    SLIMLM_RETURN_IF_ERROR(w.add_tensor(r.name, r.shape, d));
  }
  w.set("general.file_type", gguf_file_type(opts.type));
  if (traits(opts.type).block_size > 1) w.set("general.quantization_version", uint32_t{2});
  SLIMLM_RETURN_IF_ERROR(w.begin(out_path));
  Gauss g(opts.seed);
  std::vector<float> row;
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i < m.tensors.size(); ++i) {
    const TensorRef& r = m.tensors[i];
    if (opts.on_tensor) opts.on_tensor(i, m.tensors.size(), r.name);
    const int64_t n = r.shape[0], rows = r.n_rows();
    const bool is_norm = r.shape.size() == 1 && r.name.find("norm") != std::string::npos;
    const float sd = r.shape.size() == 1 ? 0.02f : 1.0f / std::sqrt(static_cast<float>(n));
    row.resize(static_cast<size_t>(n));
    bytes.resize(*row_bytes(types[i], static_cast<uint64_t>(n)));
    for (int64_t rr = 0; rr < rows; ++rr) {
      for (auto& x : row) x = is_norm ? 1.0f : g.next() * sd;
      SLIMLM_RETURN_IF_ERROR(quantize_row(types[i], row.data(), bytes.data(), n));
      SLIMLM_RETURN_IF_ERROR(w.write(bytes.data(), bytes.size()));
    }
  }
  return w.finish();
}

}  // namespace slimlm
