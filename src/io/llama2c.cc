#include "io/llama2c.h"

#include <cstring>

#include <fmt/format.h>

#include "io/byte_cursor.h"
#include "io/mapped_file.h"

namespace slimlm {

const Llama2cArray* Llama2cCheckpoint::find(const std::string& name) const {
  for (const auto& a : arrays)
    if (a.name == name) return &a;
  return nullptr;
}

Result<Llama2cCheckpoint> open_llama2c(const std::string& path) {
  SLIMLM_ASSIGN_OR_RETURN(auto mf, MappedFile::open(path));
  const uint8_t* data = mf->data();
  uint64_t size = mf->size();
  return parse_llama2c(data, size, path, std::move(mf));
}

Result<Llama2cCheckpoint> parse_llama2c(const uint8_t* data, uint64_t size, const std::string& name,
                                        std::shared_ptr<const void> keep) {
  Llama2cCheckpoint ck;
  ck.path = name;
  ck.keep = std::move(keep);
  Llama2cConfig& c = ck.config;
  uint64_t pos = 0;
  try {
    ByteCursor cur(data, size);
    uint32_t magic = cur.read<uint32_t>();
    if (magic == 0x616b3432) {  // "ak42"
      c.version = cur.read<int32_t>();
      if (c.version != 1)
        return Error{fmt::format("{}: llama2.c checkpoint version {} is not supported (only fp32 v0 and v1)", name,
                                 c.version)};
    } else {
      cur = ByteCursor(data, size);
    }
    c.dim = cur.read<int32_t>();
    c.hidden_dim = cur.read<int32_t>();
    c.n_layers = cur.read<int32_t>();
    c.n_heads = cur.read<int32_t>();
    c.n_kv_heads = cur.read<int32_t>();
    c.vocab_size = cur.read<int32_t>();
    c.seq_len = cur.read<int32_t>();
    if (c.version == 1) {
      c.shared_classifier = cur.read<uint8_t>() != 0;
      pos = 256;
    } else {
      c.shared_classifier = c.vocab_size > 0;
      if (c.vocab_size < 0) c.vocab_size = -c.vocab_size;
      pos = cur.pos();
    }
  } catch (const ParseError& e) {
    return Error{fmt::format("{}: {}", name, e.what())};
  }
  auto bad_cfg = [&](const char* what) {
    return Error{fmt::format("{}: not a llama2.c checkpoint: {} (dim {}, hidden {}, layers {}, heads {}, kv heads {}, "
                             "vocab {}, seq_len {})",
                             name, what, c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size,
                             c.seq_len)};
  };
  constexpr int32_t kMax = 1 << 20;
  if (c.dim <= 0 || c.hidden_dim <= 0 || c.n_layers <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 ||
      c.vocab_size <= 0 || c.seq_len <= 0 || c.dim > kMax || c.hidden_dim > kMax || c.n_layers > 4096 ||
      c.vocab_size > kMax * 4 || c.seq_len > kMax * 4)
    return bad_cfg("implausible header");
  if (c.dim % c.n_heads != 0 || c.n_heads % c.n_kv_heads != 0) return bad_cfg("heads do not divide dim");
  const uint64_t D = c.dim, H = c.hidden_dim, L = c.n_layers, V = c.vocab_size;
  const uint64_t hd = D / c.n_heads, kv = hd * c.n_kv_heads;
  struct Part {
    const char* name;
    uint64_t n;
  };
  std::vector<Part> parts;
  if (c.version == 0) {
    parts = {{"token_embedding", V * D}, {"rms_att", L * D},      {"wq", L * D * D},    {"wk", L * kv * D},
             {"wv", L * kv * D},         {"wo", L * D * D},       {"rms_ffn", L * D},   {"w1", L * H * D},
             {"w2", L * D * H},          {"w3", L * H * D},       {"rms_final", D},
             {"freq_cis_real", uint64_t(c.seq_len) * hd / 2},  {"freq_cis_imag", uint64_t(c.seq_len) * hd / 2}};
  } else {
    parts = {{"rms_att", L * D},  {"rms_ffn", L * D}, {"rms_final", D},   {"token_embedding", V * D},
             {"wq", L * D * D},   {"wk", L * kv * D}, {"wv", L * kv * D}, {"wo", L * D * D},
             {"w1", L * H * D},   {"w2", L * D * H},  {"w3", L * H * D}};
  }
  if (!c.shared_classifier) parts.push_back({"wcls", V * D});
  for (const Part& p : parts) {
    uint64_t bytes = p.n * 4;
    if (bytes > size - pos)
      return Error{fmt::format("{}: truncated: '{}' needs {} bytes at byte {} but the file has {} bytes", name, p.name,
                               bytes, pos, size)};
    ck.arrays.push_back({p.name, reinterpret_cast<const float*>(data + pos), p.n, pos});
    pos += bytes;
  }
  if (pos != size)
    return Error{fmt::format("{}: {} unexpected bytes after the last tensor (ends at byte {}); wrong header?", name,
                             size - pos, pos)};
  return ck;
}

Result<Llama2cTokenizer> read_llama2c_tokenizer(const std::string& path, int32_t vocab_size) {
  SLIMLM_ASSIGN_OR_RETURN(auto mf, MappedFile::open(path));
  Llama2cTokenizer t;
  try {
    ByteCursor cur(mf->data(), mf->size());
    t.max_token_length = cur.read<int32_t>();
    if (t.max_token_length <= 0 || t.max_token_length > 65536)
      return Error{fmt::format("{}: max_token_length {} is implausible", path, t.max_token_length)};
    for (int32_t i = 0; i < vocab_size; ++i) {
      float score = cur.read<float>();
      int32_t len = cur.read<int32_t>();
      if (len < 0 || len > t.max_token_length)
        return Error{fmt::format("{}: piece {} at byte {} has length {} (max {})", path, i, cur.pos() - 4, len,
                                 t.max_token_length)};
      t.pieces.push_back(cur.read_bytes(static_cast<uint64_t>(len), "token piece"));
      t.scores.push_back(score);
    }
    if (cur.remaining() != 0)
      return Error{fmt::format("{}: {} bytes left after {} pieces: the tokenizer does not match the model's vocabulary",
                               path, cur.remaining(), vocab_size)};
  } catch (const ParseError& e) {
    return Error{fmt::format("{}: {} (the model expects {} pieces)", path, e.what(), vocab_size)};
  }
  return t;
}

}  // namespace slimlm
