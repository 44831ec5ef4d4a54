// Hugging Face checkpoint (config.json + safetensors + tokenizer.json) ->
// ModelDesc, with llama.cpp's tensor names and, for the llama architecture,
// its Q/K row permutation (rotate-half -> interleaved RoPE), applied lazily.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "model/model_desc.h"

namespace slimlm {
namespace {

using nlohmann::json;

Status read_config(const std::filesystem::path& p, ModelConfig& c) {
  std::ifstream in(p);
  if (!in) return Error{fmt::format("{}: cannot open (a Hugging Face model needs config.json)", p.string())};
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    return Error{fmt::format("{}: invalid JSON: {}", p.string(), e.what())};
  }
  if (!j.is_object()) return Error{fmt::format("{}: not a JSON object", p.string())};
  auto geti = [&](const char* k, int64_t def) -> int64_t {
    return j.contains(k) && j[k].is_number_integer() ? j[k].get<int64_t>() : def;
  };
  auto getf = [&](const char* k, double def) -> double {
    return j.contains(k) && j[k].is_number() ? j[k].get<double>() : def;
  };
  std::string mt = j.value("model_type", "");
  if (mt == "llama" || mt == "mistral") c.arch = "llama";  // llama.cpp converts Mistral as llama
  else if (mt == "qwen2") c.arch = "qwen2";
  else if (mt == "phi3") c.arch = "phi3";
  else return Error{fmt::format("{}: model_type '{}' is not supported (llama, mistral, qwen2, phi3)", p.string(), mt)};
  c.n_vocab = geti("vocab_size", 0);
  c.n_embd = geti("hidden_size", 0);
  c.n_ff = geti("intermediate_size", 0);
  c.n_layer = geti("num_hidden_layers", 0);
  c.n_head = geti("num_attention_heads", 0);
  c.n_head_kv = geti("num_key_value_heads", c.n_head);
  c.n_ctx = geti("max_position_embeddings", 0);
  c.n_rot = geti("head_dim", c.n_head ? c.n_embd / c.n_head : 0);
  if (j.contains("partial_rotary_factor") && j["partial_rotary_factor"].is_number())
    c.n_rot = static_cast<int64_t>(c.n_rot * j["partial_rotary_factor"].get<double>());
  c.rope_freq_base = getf("rope_theta", 10000.0);
  c.rms_eps = getf("rms_norm_eps", 1e-5);
  c.tied_embeddings = j.value("tie_word_embeddings", false);
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
    const json& rs = j["rope_scaling"];
    std::string t = rs.value("rope_type", rs.value("type", ""));
    c.rope_scaling = t;
    if (rs.contains("factor") && rs["factor"].is_number()) c.rope_scaling_factor = rs["factor"].get<double>();
    if (rs.contains("original_max_position_embeddings") && rs["original_max_position_embeddings"].is_number_integer())
      c.rope_orig_ctx = rs["original_max_position_embeddings"].get<int64_t>();
  }
  if (c.n_embd <= 0 || c.n_layer <= 0 || c.n_head <= 0 || c.n_head_kv <= 0 || c.n_vocab <= 0)
    return Error{fmt::format("{}: missing or invalid hidden_size / num_hidden_layers / num_attention_heads / vocab_size",
                             p.string())};
  return {};
}

struct NameMap {
  std::string gguf;
  int64_t permute_heads = 0;
};

// Hugging Face tensor name -> GGUF name; nullopt for tensors llama.cpp drops.
std::optional<NameMap> map_name(const std::string& hf, const ModelConfig& c) {
  static const std::regex layer_re(R"(model\.layers\.(\d+)\.(.+))");
  if (hf == "model.embed_tokens.weight") return NameMap{"token_embd.weight"};
  if (hf == "model.norm.weight") return NameMap{"output_norm.weight"};
  if (hf == "lm_head.weight") return NameMap{"output.weight"};
  std::smatch m;
  if (!std::regex_match(hf, m, layer_re)) return std::nullopt;
  const std::string blk = "blk." + m[1].str() + ".";
  const std::string rest = m[2].str();
  // llama.cpp permutes Q/K only where the model uses interleaved (non-NeoX) RoPE.
  const bool permute = c.arch == "llama";
  static const std::pair<const char*, const char*> kSimple[] = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.qkv_proj.weight", "attn_qkv.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
      {"mlp.gate_up_proj.weight", "ffn_up.weight"},  // phi3: fused gate+up
  };
  for (const auto& [from, to] : kSimple)
    if (rest == from) return NameMap{blk + to};
  if (rest == "self_attn.q_proj.weight") return NameMap{blk + "attn_q.weight", permute ? c.n_head : 0};
  if (rest == "self_attn.k_proj.weight") return NameMap{blk + "attn_k.weight", permute ? c.n_head_kv : 0};
  return std::nullopt;  // e.g. rotary_emb.inv_freq
}

Result<DType> map_dtype(const SafetensorsTensor& t, const std::string& file) {
  if (t.dtype == "F32") return DType::F32;
  if (t.dtype == "F16") return DType::F16;
  if (t.dtype == "BF16") return DType::BF16;
  return Error{fmt::format("{}: tensor '{}' has dtype {} (F32, F16 and BF16 are supported)", file, t.name, t.dtype)};
}

}  // namespace

Result<ModelDesc> load_safetensors_model(const std::string& path, const LoadOptions& opts) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = fs::is_directory(path, ec) ? fs::path(path) : fs::path(path).parent_path();
  ModelDesc m;
  m.format = "safetensors";
  m.path = path;
  SLIMLM_RETURN_IF_ERROR(read_config(dir / "config.json", m.config));
  ModelConfig& c = m.config;
  c.name = fs::absolute(dir, ec).filename().string();
  SLIMLM_ASSIGN_OR_RETURN(auto files, open_safetensors_checkpoint(path));

  const SafetensorsTensor* lm_head = nullptr;
  for (const auto& f : files) {
    m.keep_alive.push_back(f.keep_alive());
    for (const auto& t : f.tensors()) {
      auto nm = map_name(t.name, c);
      if (!nm) continue;
      if (nm->gguf == "output.weight") lm_head = &t;
      if (m.find(nm->gguf)) return Error{fmt::format("{}: tensor '{}' appears twice", f.path(), t.name)};
      SLIMLM_ASSIGN_OR_RETURN(DType dt, map_dtype(t, f.path()));
      TensorRef r;
      r.name = nm->gguf;
      r.shape.assign(t.shape.rbegin(), t.shape.rend());  // row-major -> ggml order
      if (r.shape.empty()) r.shape = {1};
      r.type = dt;
      r.data = t.data;
      r.n_bytes = t.n_bytes;
      r.permute_heads = nm->permute_heads;
      r.origin = fmt::format("{}:{}", f.path(), t.name);
      if (r.permute_heads > 0 && (r.shape.size() != 2 || r.shape[1] % (2 * r.permute_heads) != 0))
        return Error{fmt::format("{}: tensor '{}' of shape [{}] cannot be split into {} RoPE heads", f.path(), t.name,
                                 fmt::join(t.shape, ", "), r.permute_heads)};
      m.tensors.push_back(std::move(r));
    }
  }
  // Tied embeddings: llama.cpp keeps only token_embd. Some checkpoints store the
  // shared matrix as lm_head.weight alone (e.g. TinyStories-656K).
  if (c.tied_embeddings && lm_head) {
    auto out = std::find_if(m.tensors.begin(), m.tensors.end(), [](const auto& t) { return t.name == "output.weight"; });
    if (!m.find("token_embd.weight")) out->name = "token_embd.weight";
    else m.tensors.erase(out);
  }
  if (!m.find("output.weight") && !c.tied_embeddings) c.tied_embeddings = true;  // no lm_head: shared

  std::string tok_dir = dir.string();
  if (!opts.tokenizer_path.empty())
    tok_dir = fs::is_directory(opts.tokenizer_path, ec) ? opts.tokenizer_path
                                                        : fs::path(opts.tokenizer_path).parent_path().string();
  if (fs::exists(fs::path(tok_dir) / "tokenizer.json", ec)) {
    SLIMLM_ASSIGN_OR_RETURN(m.tokenizer, read_hf_tokenizer(tok_dir));
  }
  return m;
}

}  // namespace slimlm
