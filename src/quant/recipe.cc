#include "quant/recipe.h"

#include <fnmatch.h>

#include <cstdlib>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "quant/slim_formats.h"

namespace slimlm {
namespace {

// Layer index of "blk.N.*", or -1.
int64_t layer_of(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  return std::strtoll(name.c_str() + 4, nullptr, 10);
}

bool has(const std::string& name, const char* part) { return name.find(part) != std::string::npos; }

// llama.cpp's use_more_bits: the first and last eighth of the layers, and every
// third layer in between, get more bits in attn_v / ffn_down.
bool more_bits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

}  // namespace

const std::vector<std::string>& quant_mixes() {
  static const std::vector<std::string> m = {"q2_k", "q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s", "q4_k_m",
                                             "q5_k_s", "q5_k_m", "q6_k", "q8_0"};
  return m;
}

Result<std::pair<std::string, DType>> parse_keep(const std::string& spec) {
  const auto eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    return Error{fmt::format("--keep '{}': expected PATTERN=TYPE, e.g. '*.ffn_down.weight=q6_k'", spec)};
  auto t = dtype_from_name(spec.substr(eq + 1));
  if (!t) return Error{fmt::format("--keep '{}': unknown type '{}'", spec, spec.substr(eq + 1))};
  return std::pair{spec.substr(0, eq), *t};
}

Status validate_recipe(const QuantRecipe& r) {
  if (!r.mix.empty() && r.type) return Error{"give either --type or --mix, not both"};
  if (r.mix.empty() && !r.type) return Error{"give --type TYPE or --mix MIX"};
  if (!r.mix.empty()) {
    for (const auto& m : quant_mixes())
      if (m == r.mix) return {};
    return Error{fmt::format("unknown mix '{}' (known: {})", r.mix, fmt::join(quant_mixes(), ", "))};
  }
  return {};
}

std::optional<DType> recipe_type(const QuantRecipe& r, const TensorRef& t, const ModelConfig& c) {
  for (const auto& [pattern, type] : r.keep)
    if (fnmatch(pattern.c_str(), t.name.c_str(), 0) == 0) return type;
  if (t.shape.size() < 2) return std::nullopt;
  if (r.mix.empty()) return r.type;
  const std::string& m = r.mix;
  const std::string& n = t.name;
  const int64_t i = layer_of(n), L = c.n_layer;
  // The output matrix (token_embd when tied) is the most sensitive: 6 bits.
  const bool is_output = n == "output.weight" || (c.tied_embeddings && n == "token_embd.weight");
  if (m == "q8_0") return DType::Q8_0;
  if (m == "q6_k" || is_output) return DType::Q6_K;
  const int64_t n_gqa = c.n_head_kv > 0 ? c.n_head / c.n_head_kv : 1;
  if (m == "q2_k") {
    if (has(n, "attn_v")) return n_gqa >= 4 ? DType::Q4_K : DType::Q3_K;
    if (has(n, "ffn_down") || has(n, "attn_output")) return DType::Q3_K;
    return DType::Q2_K;
  }
  if (m == "q3_k_s") return DType::Q3_K;
  if (m == "q3_k_m") {
    if (has(n, "attn_v")) return i < 2 ? DType::Q5_K : DType::Q4_K;
    // (llama.cpp keeps Q3_K only for Falcon's in-between layers.)
    if (has(n, "ffn_down")) return i < L / 16 ? DType::Q5_K : DType::Q4_K;
    if (has(n, "attn_output") || has(n, "attn_qkv")) return DType::Q4_K;
    return DType::Q3_K;
  }
  if (m == "q3_k_l") {
    if (has(n, "attn_v") || has(n, "ffn_down") || has(n, "attn_output")) return DType::Q5_K;
    if (has(n, "attn_qkv")) return DType::Q4_K;
    return DType::Q3_K;
  }
  if (m == "q4_k_s") {
    if ((has(n, "attn_v") && i < 4) || (has(n, "ffn_down") && i < L / 8)) return DType::Q5_K;
    return DType::Q4_K;
  }
  if (m == "q4_k_m") {
    if ((has(n, "attn_v") || has(n, "ffn_down")) && more_bits(i, L)) return DType::Q6_K;
    if (has(n, "attn_qkv")) return DType::Q5_K;
    return DType::Q4_K;
  }
  if (m == "q5_k_s") return DType::Q5_K;
  if (m == "q5_k_m") {
    if (has(n, "attn_qkv") || ((has(n, "attn_v") || has(n, "ffn_down")) && more_bits(i, L))) return DType::Q6_K;
    return DType::Q5_K;
  }
  return r.type;
}

Result<QuantRecipe> recipe_from_name(const std::string& name, int group) {
  QuantRecipe r;
  for (const auto& m : quant_mixes())
    if (m == name) {
      if (group) return Error{fmt::format("--group applies to intN and nf4 types, not the mix {}", name)};
      r.mix = name;
      return r;
    }
  for (const char* base : {"int2", "int3", "int4", "int8", "nf4"}) {
    if (name == base) {
      auto t = dtype_from_name(fmt::format("{}g{}", base, group ? group : 64));
      if (!t) return Error{fmt::format("group {}: {} comes in groups of 32, 64 or 128", group, base)};
      r.type = *t;
      return r;
    }
  }
  auto t = dtype_from_name(name);
  if (!t) return Error{fmt::format("unknown type or mix '{}'", name)};
  if (group) {
    const auto f = slim_format(*t);
    if (!f) return Error{fmt::format("--group applies to intN and nf4 types, not {}", name)};
    if (f->group != group) return Error{fmt::format("{} has groups of {}, not {}", name, f->group, group)};
  }
  r.type = *t;
  return r;
}

std::optional<uint32_t> recipe_file_type(const QuantRecipe& r) {
  static const std::pair<const char*, uint32_t> kFtypes[] = {
      {"q8_0", 7},    {"q2_k", 10},   {"q3_k_s", 11}, {"q3_k_m", 12}, {"q3_k_l", 13},
      {"q4_k_s", 14}, {"q4_k_m", 15}, {"q5_k_s", 16}, {"q5_k_m", 17}, {"q6_k", 18}};
  for (const auto& [name, ftype] : kFtypes)
    if (r.mix == name) return ftype;
  return std::nullopt;
}

}  // namespace slimlm
