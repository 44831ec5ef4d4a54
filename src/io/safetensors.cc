#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/mapped_file.h"

namespace slimlm {

uint32_t safetensors_dtype_size(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
  return 0;
}

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  SLIMLM_ASSIGN_OR_RETURN(auto mf, MappedFile::open(path));
  const uint8_t* data = mf->data();
  uint64_t size = mf->size();
  return parse(data, size, path, std::move(mf));
}

Result<SafetensorsFile> SafetensorsFile::parse(const uint8_t* data, uint64_t size, const std::string& name,
                                               std::shared_ptr<const void> keep) {
  constexpr uint64_t kMaxHeader = 100ull << 20;  // the reference implementation's limit
  if (size < 8) return Error{fmt::format("{}: truncated: {} bytes, no safetensors header", name, size)};
  uint64_t hlen;
  std::memcpy(&hlen, data, 8);
  if (hlen > kMaxHeader) return Error{fmt::format("{}: header length {} exceeds {} bytes", name, hlen, kMaxHeader)};
  if (hlen > size - 8)
    return Error{fmt::format("{}: truncated: header of {} bytes but only {} follow byte 8", name, hlen, size - 8)};
  const uint64_t data_start = 8 + hlen;
  const uint64_t data_size = size - data_start;

  nlohmann::json h;
  try {
    h = nlohmann::json::parse(data + 8, data + 8 + hlen);
  } catch (const nlohmann::json::exception& e) {
    return Error{fmt::format("{}: header (bytes 8..{}) is not valid JSON: {}", name, data_start, e.what())};
  }
  if (!h.is_object()) return Error{fmt::format("{}: header is not a JSON object", name)};

  SafetensorsFile f;
  f.path_ = name;
  f.keep_ = std::move(keep);
  std::vector<std::pair<uint64_t, uint64_t>> extents;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& key = it.key();
    const auto& v = it.value();
    if (key == "__metadata__") {
      if (!v.is_object()) return Error{fmt::format("{}: __metadata__ is not an object", name)};
      for (auto m = v.begin(); m != v.end(); ++m)
        if (m.value().is_string()) f.metadata_[m.key()] = m.value().get<std::string>();
      continue;
    }
    auto bad = [&](const std::string& msg) { return Error{fmt::format("{}: tensor '{}': {}", name, key, msg)}; };
    if (!v.is_object()) return bad("entry is not an object");
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) return bad("missing string 'dtype'");
    if (sh == v.end() || !sh->is_array()) return bad("missing array 'shape'");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      return bad("'data_offsets' must be two unsigned integers");
    SafetensorsTensor t;
    t.name = key;
    t.dtype = dt->get<std::string>();
    uint32_t es = safetensors_dtype_size(t.dtype);
    if (es == 0) return bad(fmt::format("unknown dtype '{}'", t.dtype));
    if (sh->size() > 8) return bad(fmt::format("{} dimensions", sh->size()));
    uint64_t n = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned()) return bad("shape entries must be non-negative integers");
      uint64_t x = d.get<uint64_t>();
      if (x != 0 && n > (uint64_t{1} << 62) / x) return bad("element count overflows");
      n *= x;
      t.shape.push_back(static_cast<int64_t>(x));
    }
    uint64_t b = (*off)[0].get<uint64_t>(), e = (*off)[1].get<uint64_t>();
    if (b > e || e > data_size)
      return bad(fmt::format("data_offsets [{}, {}] outside the {} data bytes (file truncated?)", b, e, data_size));
    if (n > (uint64_t{1} << 62) / es || e - b != n * es)
      return bad(fmt::format("{} bytes for {} elements of {}", e - b, n, t.dtype));
    t.n_bytes = e - b;
    t.file_offset = data_start + b;
    t.data = data + data_start + b;
    extents.emplace_back(b, e);
    f.tensors_.push_back(std::move(t));
  }
  std::sort(extents.begin(), extents.end());
  for (size_t i = 1; i < extents.size(); ++i)
    if (extents[i].first < extents[i - 1].second)
      return Error{fmt::format("{}: tensor data ranges overlap at data byte {}", name, extents[i].first)};
  return f;
}

Result<std::vector<SafetensorsFile>> open_safetensors_checkpoint(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(path);
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / "model.safetensors.index.json", ec)) p /= "model.safetensors.index.json";
    else if (fs::exists(p / "model.safetensors", ec)) p /= "model.safetensors";
    else return Error{fmt::format("{}: no model.safetensors or model.safetensors.index.json in the directory", path)};
  }
  std::vector<SafetensorsFile> out;
  if (p.extension() != ".json") {
    SLIMLM_ASSIGN_OR_RETURN(auto f, SafetensorsFile::open(p.string()));
    out.push_back(std::move(f));
    return out;
  }
  std::ifstream in(p);
  if (!in) return Error{fmt::format("{}: cannot open", p.string())};
  nlohmann::json idx;
  try {
    idx = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    return Error{fmt::format("{}: invalid JSON: {}", p.string(), e.what())};
  }
  if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
    return Error{fmt::format("{}: no 'weight_map' object", p.string())};
  std::set<std::string> shards;
  for (const auto& [tensor, file] : idx["weight_map"].items()) {
    if (!file.is_string()) return Error{fmt::format("{}: weight_map['{}'] is not a string", p.string(), tensor)};
    std::string s = file.get<std::string>();
    // Shards must live beside the index: no paths, so a hostile index cannot read elsewhere.
    if (s.empty() || s.find('/') != std::string::npos || s.find('\\') != std::string::npos || s == "." || s == "..")
      return Error{fmt::format("{}: shard name '{}' for tensor '{}' is not a plain file name", p.string(), s, tensor)};
    shards.insert(s);
  }
  for (const auto& s : shards) {
    SLIMLM_ASSIGN_OR_RETURN(auto f, SafetensorsFile::open((p.parent_path() / s).string()));
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace slimlm
