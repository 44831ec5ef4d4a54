// tokenizer.json -> GGUF vocabulary, following the choices of llama.cpp's
// convert_hf_to_gguf.py so converted files tokenize the same in both tools.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tokenizer/vocab.h"

namespace slimlm {
namespace {

using nlohmann::json;

Result<json> read_json(const std::filesystem::path& p, bool required) {
  std::ifstream in(p);
  if (!in) {
    if (required) return Error{fmt::format("{}: cannot open", p.string())};
    return json();
  }
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    return Error{fmt::format("{}: invalid JSON: {}", p.string(), e.what())};
  }
}

// "<s>" or {"content": "<s>", ...} -> "<s>".
std::string token_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return {};
}

bool is_byte_token(const std::string& s) {
  return s.size() == 6 && s.rfind("<0x", 0) == 0 && s[5] == '>' && std::isxdigit(static_cast<unsigned char>(s[3])) &&
         std::isxdigit(static_cast<unsigned char>(s[4]));
}

}  // namespace

Result<TokenizerDesc> read_hf_tokenizer(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path d(dir);
  const std::string tpath = (d / "tokenizer.json").string();
  SLIMLM_ASSIGN_OR_RETURN(json tj, read_json(d / "tokenizer.json", true));
  SLIMLM_ASSIGN_OR_RETURN(json tc, read_json(d / "tokenizer_config.json", false));
  SLIMLM_ASSIGN_OR_RETURN(json cfg, read_json(d / "config.json", false));
  if (!tj.is_object() || !tj.contains("model") || !tj["model"].is_object())
    return Error{fmt::format("{}: no 'model' object", tpath)};
  const json& model = tj["model"];
  const std::string type = model.value("type", "");
  if (!model.contains("vocab") || !model["vocab"].is_object())
    return Error{fmt::format("{}: model '{}' has no vocab object", tpath, type)};

  TokenizerDesc t;
  // id -> text, from the model vocab and the added tokens.
  std::map<int64_t, std::string> by_id;
  for (const auto& [text, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > (1 << 24))
      return Error{fmt::format("{}: vocab entry '{}' has an invalid id", tpath, text)};
    by_id[id.get<int64_t>()] = text;
  }
  std::set<int64_t> special, user;
  if (tj.contains("added_tokens") && tj["added_tokens"].is_array()) {
    for (const auto& a : tj["added_tokens"]) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer()) continue;
      int64_t id = a["id"].get<int64_t>();
      if (id < 0 || id > (1 << 24)) return Error{fmt::format("{}: added token id {} out of range", tpath, id)};
      by_id[id] = token_text(a);
      (a.value("special", false) ? special : user).insert(id);
    }
  }
  int64_t n = by_id.empty() ? 0 : by_id.rbegin()->first + 1;
  if (cfg.is_object() && cfg.contains("vocab_size") && cfg["vocab_size"].is_number_integer())
    n = std::max<int64_t>(n, cfg["vocab_size"].get<int64_t>());
  if (n > (1 << 24)) return Error{fmt::format("{}: vocabulary of {} tokens is implausible", tpath, n)};

  const bool byte_fallback = model.value("byte_fallback", false);
  if (type == "BPE" && byte_fallback) t.model = "llama";
  else if (type == "BPE") t.model = "gpt2";
  else if (type == "WordPiece") t.model = "bert";
  else return Error{fmt::format("{}: tokenizer model '{}' is not supported (BPE and WordPiece are)", tpath, type)};
  t.pre = "default";

  for (int64_t id = 0; id < n; ++id) {
    auto it = by_id.find(id);
    if (it == by_id.end()) {  // holes (e.g. vocab_size padding) as llama.cpp fills them
      t.tokens.push_back(fmt::format("[PAD{}]", id));
      t.token_types.push_back(5);  // unused
    } else {
      t.tokens.push_back(it->second);
      int32_t tt = 1;
      if (special.count(id)) tt = 3;
      else if (user.count(id)) tt = 4;
      else if (t.model == "llama" && is_byte_token(it->second)) tt = 6;
      t.token_types.push_back(tt);
    }
    // llama.cpp's LlamaHfVocab has no scores in tokenizer.json and writes -1000.
    t.scores.push_back(t.model == "llama" ? -1000.0f : 0.0f);
  }
  if (t.model == "gpt2" && model.contains("merges") && model["merges"].is_array()) {
    for (const auto& mg : model["merges"]) {
      if (mg.is_string()) t.merges.push_back(mg.get<std::string>());
      else if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string())
        t.merges.push_back(mg[0].get<std::string>() + " " + mg[1].get<std::string>());
    }
  }

  auto id_of = [&](const std::string& text) -> int64_t {
    if (text.empty()) return -1;
    for (const auto& [id, s] : by_id)
      if (s == text) return id;
    return -1;
  };
  auto cfg_id = [&](const char* key) -> int64_t {
    if (cfg.is_object() && cfg.contains(key) && cfg[key].is_number_integer()) return cfg[key].get<int64_t>();
    return -1;
  };
  if (tc.is_object()) {
    if (tc.contains("bos_token")) t.bos = id_of(token_text(tc["bos_token"]));
    if (tc.contains("eos_token")) t.eos = id_of(token_text(tc["eos_token"]));
    if (tc.contains("unk_token")) t.unk = id_of(token_text(tc["unk_token"]));
    if (tc.contains("pad_token")) t.pad = id_of(token_text(tc["pad_token"]));
    if (tc.contains("add_bos_token") && tc["add_bos_token"].is_boolean()) t.add_bos = tc["add_bos_token"].get<bool>();
    if (tc.contains("add_eos_token") && tc["add_eos_token"].is_boolean()) t.add_eos = tc["add_eos_token"].get<bool>();
    if (tc.contains("chat_template") && tc["chat_template"].is_string())
      t.chat_template = tc["chat_template"].get<std::string>();
  }
  if (t.bos < 0) t.bos = cfg_id("bos_token_id");
  if (t.eos < 0) t.eos = cfg_id("eos_token_id");
  if (t.unk < 0 && model.contains("unk_token")) t.unk = id_of(token_text(model["unk_token"]));
  for (int64_t* id : {&t.bos, &t.eos, &t.unk, &t.pad})
    if (*id >= n) *id = -1;
  return t;
}

}  // namespace slimlm
