// slimlm inspect PATH [--tokenizer TOK] [--json] [--metadata]
#include <cstdio>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "model/model_desc.h"

namespace slimlm::cli {
namespace {

struct InspectArgs {
  std::string path, tokenizer;
  bool json = false, metadata = false;
};

std::string token_label(const TokenizerDesc& t, int64_t id) {
  if (id < 0 || id >= static_cast<int64_t>(t.tokens.size())) return id < 0 ? "none" : fmt::format("{} (?)", id);
  return fmt::format("{} '{}'", id, t.tokens[id]);
}

nlohmann::json value_json(const GgufValue& v, size_t max_items) {
  if (auto* s = v.as_string()) return nlohmann::json(*s);  // dumped with replacement for invalid UTF-8
  if (auto* a = v.as_array()) {
    nlohmann::json arr = nlohmann::json::array();
    for (size_t i = 0; i < a->items.size() && i < max_items; ++i) arr.push_back(value_json(a->items[i], max_items));
    return {{"type", std::string(gguf_type_name(a->type))}, {"count", a->items.size()}, {"head", arr}};
  }
  if (v.type() == GgufType::BOOL) return std::get<bool>(v.v);
  if (v.type() == GgufType::F32 || v.type() == GgufType::F64) return *v.as_double();
  if (v.type() == GgufType::U64) return std::get<uint64_t>(v.v);
  return *v.as_int();
}

int run_inspect(const InspectArgs& a) {
  LoadOptions lo;
  lo.tokenizer_path = a.tokenizer;
  auto r = load_model(a.path, lo);
  if (!r.ok()) {
    fmt::print(stderr, "error: {}\n", r.message());
    return 1;
  }
  const ModelDesc& m = *r;
  const ModelConfig& c = m.config;
  const TokenizerDesc& t = m.tokenizer;
  uint64_t n_params = 0, n_bytes = 0;
  std::map<std::string, uint64_t> by_type;
  for (const auto& x : m.tensors) {
    n_params += x.n_elements();
    n_bytes += x.n_bytes;
    by_type[std::string(dtype_name(x.type))] += 1;
  }
  const double bpw = n_params ? 8.0 * static_cast<double>(n_bytes) / static_cast<double>(n_params) : 0.0;
  Status valid = validate_llama_tensors(m);

  if (a.json) {
    nlohmann::json j;
    j["path"] = m.path;
    j["format"] = m.format;
    j["architecture"] = c.arch;
    j["name"] = c.name;
    j["hparams"] = {{"n_vocab", c.n_vocab},     {"n_embd", c.n_embd},       {"n_ff", c.n_ff},
                    {"n_layer", c.n_layer},     {"n_head", c.n_head},       {"n_head_kv", c.n_head_kv},
                    {"head_dim", c.head_dim()}, {"n_ctx_train", c.n_ctx},   {"n_rot", c.n_rot},
                    {"rope_freq_base", c.rope_freq_base}, {"rms_eps", c.rms_eps},
                    {"rope_scaling", c.rope_scaling},     {"tied_embeddings", c.tied_embeddings}};
    j["tokenizer"] = {{"model", t.model}, {"pre", t.pre},       {"n_tokens", t.tokens.size()},
                      {"n_merges", t.merges.size()}, {"bos", t.bos}, {"eos", t.eos},
                      {"unk", t.unk},     {"pad", t.pad}};
    if (t.add_bos) j["tokenizer"]["add_bos"] = *t.add_bos;
    j["tensors"] = nlohmann::json::array();
    for (const auto& x : m.tensors)
      j["tensors"].push_back({{"name", x.name}, {"shape", x.shape}, {"type", dtype_name(x.type)}, {"bytes", x.n_bytes}});
    j["totals"] = {{"n_tensors", m.tensors.size()}, {"n_params", n_params}, {"bytes", n_bytes},
                   {"bits_per_weight", bpw}, {"tensors_by_type", by_type}};
    j["llama_compatible"] = valid.ok();
    if (!valid.ok()) j["problem"] = valid.message();
    if (a.metadata) {
      j["metadata"] = nlohmann::json::object();
      for (const auto& [k, v] : m.source_kv) j["metadata"][k] = value_json(v, 16);
    }
    fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return 0;
  }

  fmt::print("{} ({})\n", m.path, m.format);
  fmt::print("  architecture  {}{}\n", c.arch, c.name.empty() ? "" : fmt::format("  ({})", c.name));
  fmt::print("  vocab {}  embd {}  ff {}  layers {}  heads {} / kv {}  head_dim {}  rot {}\n", c.n_vocab, c.n_embd,
             c.n_ff, c.n_layer, c.n_head, c.n_head_kv, c.head_dim(), c.n_rot);
  fmt::print("  context {}  rope base {}{}  rms eps {:g}  tied embeddings {}\n", c.n_ctx, c.rope_freq_base,
             c.rope_scaling.empty() ? "" : fmt::format(" scaling {} x{}", c.rope_scaling, c.rope_scaling_factor),
             c.rms_eps, c.tied_embeddings ? "yes" : "no");
  if (t.empty()) {
    fmt::print("  tokenizer     none{}\n", m.format == "llama2c" ? " (pass --tokenizer tokenizer.bin)" : "");
  } else {
    fmt::print("  tokenizer     {} / {}: {} tokens, {} merges; bos {}, eos {}, unk {}\n", t.model,
               t.pre.empty() ? "-" : t.pre, t.tokens.size(), t.merges.size(), token_label(t, t.bos),
               token_label(t, t.eos), token_label(t, t.unk));
  }
  if (a.metadata)
    for (const auto& [k, v] : m.source_kv) fmt::print("  meta  {:<44} {}\n", k, v.to_string());
  fmt::print("\n  {:<32} {:<18} {:<8} {:>12}\n", "tensor", "shape", "type", "bytes");
  for (const auto& x : m.tensors)
    fmt::print("  {:<32} {:<18} {:<8} {:>12}\n", x.name, fmt::format("[{}]", fmt::join(x.shape, ", ")),
               dtype_name(x.type), x.n_bytes);
  fmt::print("\n  {} tensors, {} parameters, {:.2f} MiB, {:.2f} bits per weight\n", m.tensors.size(), n_params,
             static_cast<double>(n_bytes) / (1 << 20), bpw);
  if (!valid.ok()) fmt::print("  note: not runnable as a Llama-family model: {}\n", valid.message());
  return 0;
}

}  // namespace

Action add_inspect(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  auto* sub = app.add_subcommand("inspect", "Show a model's architecture, tokenizer and tensors");
  auto* path = sub->add_option("path", args->path, "GGUF file, safetensors file/directory, or llama2.c .bin");
  auto* model = sub->add_option("-m,--model", args->path, "The same, as the other commands take it");
  path->excludes(model);
  sub->callback([path, model] {
    if (path->count() + model->count() == 0) throw CLI::RequiredError("a model: PATH or -m PATH");
  });
  sub->add_option("--tokenizer", args->tokenizer, "llama2.c tokenizer.bin (or a directory with tokenizer.json)");
  sub->add_flag("--json", args->json, "Print JSON");
  sub->add_flag("--metadata", args->metadata, "Also print every GGUF metadata entry");
  return [args] { return run_inspect(*args); };
}

}  // namespace slimlm::cli
