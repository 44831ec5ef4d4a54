// GGUF parser. The input is untrusted: every count is checked against the
// bytes that remain before anything is allocated, recursion is bounded, and
// tensor extents are checked against the data section.
#include <cstring>

#include <fmt/format.h>

#include "io/byte_cursor.h"
#include "io/gguf.h"

namespace slimlm {
namespace {

class Parser {
 public:
  Parser(ByteCursor& c, const GgufLimits& lim) : c_(c), lim_(lim) {}

  std::string read_string(const char* what) {
    auto n = c_.read<uint64_t>();
    if (n > lim_.max_string) c_.fail(fmt::format("{} length {} exceeds limit {}", what, n, lim_.max_string));
    return c_.read_bytes(n, what);
  }

  GgufType read_type() {
    auto t = c_.read<uint32_t>();
    if (t > static_cast<uint32_t>(GgufType::F64)) c_.fail(fmt::format("unknown metadata value type {}", t));
    return static_cast<GgufType>(t);
  }

  // Smallest encoded size of one value of type t, used to bound array counts.
  static uint64_t min_size(GgufType t) {
    switch (t) {
      case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
      case GgufType::U16: case GgufType::I16: return 2;
      case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
      case GgufType::STRING: case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
      case GgufType::ARRAY: return 12;
    }
    return 1;
  }

  GgufValue read_value(GgufType t, uint32_t depth) {
    switch (t) {
      case GgufType::U8: return c_.read<uint8_t>();
      case GgufType::I8: return c_.read<int8_t>();
      case GgufType::U16: return c_.read<uint16_t>();
      case GgufType::I16: return c_.read<int16_t>();
      case GgufType::U32: return c_.read<uint32_t>();
      case GgufType::I32: return c_.read<int32_t>();
      case GgufType::F32: return c_.read<float>();
      case GgufType::BOOL: {
        auto b = c_.read<uint8_t>();
        if (b > 1) c_.fail(fmt::format("bool value {} is neither 0 nor 1", b));
        return b != 0;
      }
      case GgufType::STRING: return read_string("string");
      case GgufType::U64: return c_.read<uint64_t>();
      case GgufType::I64: return c_.read<int64_t>();
      case GgufType::F64: return c_.read<double>();
      case GgufType::ARRAY: {
        if (depth >= lim_.max_array_depth) c_.fail(fmt::format("arrays nested deeper than {}", lim_.max_array_depth));
        GgufArray a;
        a.type = read_type();
        auto n = c_.read<uint64_t>();
        if (n > c_.remaining() / min_size(a.type))
          c_.fail(fmt::format("array of {} {} values cannot fit in the {} remaining bytes", n,
                              gguf_type_name(a.type), c_.remaining()));
        // Reserve little up front: memory grows only with bytes actually parsed.
        a.items.reserve(n < 4096 ? n : 4096);
        for (uint64_t i = 0; i < n; ++i) a.items.push_back(read_value(a.type, depth + 1));
        return a;
      }
    }
    c_.fail("unreachable value type");
  }

 private:
  ByteCursor& c_;
  const GgufLimits& lim_;
};

}  // namespace

Result<GgufFile> GgufFile::open(const std::string& path, const GgufLimits& limits) {
  SLIMLM_ASSIGN_OR_RETURN(auto mf, MappedFile::open(path));
  const uint8_t* data = mf->data();
  uint64_t size = mf->size();
  return parse(data, size, path, std::move(mf), limits);
}

Result<GgufFile> GgufFile::parse(const uint8_t* data, uint64_t size, const std::string& name,
                                 std::shared_ptr<const void> keep, const GgufLimits& limits) {
  GgufFile f;
  f.path_ = name;
  f.base_ = data;
  f.keep_ = std::move(keep);
  ByteCursor c(data, size);
  Parser p(c, limits);
  try {
    if (c.read<uint32_t>() != kGgufMagic) return Error{fmt::format("{}: not a GGUF file (bad magic)", name)};
    f.version_ = c.read<uint32_t>();
    if (f.version_ == 1) return Error{fmt::format("{}: GGUF v1 is obsolete and not supported", name)};
    if (f.version_ != 2 && f.version_ != 3)
      return Error{fmt::format("{}: unsupported GGUF version {} (or a big-endian file)", name, f.version_)};
    uint64_t n_tensors = c.read<uint64_t>();
    uint64_t n_kv = c.read<uint64_t>();
    // Each KV needs >= 8+0+4+1 bytes and each tensor info >= 8+4+8+4+8 bytes.
    if (n_kv > c.remaining() / 13) c.fail(fmt::format("{} metadata entries cannot fit in the file", n_kv));
    if (n_tensors > c.remaining() / 32) c.fail(fmt::format("{} tensors cannot fit in the file", n_tensors));

    f.kv_.reserve(n_kv);
    for (uint64_t i = 0; i < n_kv; ++i) {
      std::string key = p.read_string("metadata key");
      GgufType t = p.read_type();
      GgufValue v = p.read_value(t, 0);
      if (f.kv_index_.count(key)) c.fail(fmt::format("duplicate metadata key '{}'", key));
      f.kv_index_.emplace(key, f.kv_.size());
      f.kv_.emplace_back(std::move(key), std::move(v));
    }
    if (const GgufValue* a = f.find("general.alignment")) {
      auto al = a->as_int();
      if (a->type() != GgufType::U32 || !al || *al <= 0 || (*al & (*al - 1)) != 0 || *al > (1 << 20))
        return Error{fmt::format("{}: general.alignment must be a u32 power of two, got {}", name, a->to_string())};
      f.alignment_ = static_cast<uint32_t>(*al);
    }

    f.tensors_.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
      GgufTensorInfo t;
      uint64_t info_pos = c.pos();
      t.name = p.read_string("tensor name");
      auto where = [&](const std::string& msg) {
        return Error{fmt::format("{}: tensor '{}' (info at byte {}): {}", name, t.name, info_pos, msg)};
      };
      uint32_t n_dims = c.read<uint32_t>();
      if (n_dims == 0 || n_dims > limits.max_dims) return where(fmt::format("{} dimensions (1..{} allowed)", n_dims, limits.max_dims));
      t.n_elements = 1;
      for (uint32_t d = 0; d < n_dims; ++d) {
        int64_t ne = c.read<int64_t>();
        if (ne < 0) return where(fmt::format("negative dimension {}", ne));
        if (ne != 0 && t.n_elements > (uint64_t{1} << 62) / static_cast<uint64_t>(ne))
          return where("element count overflows");
        t.n_elements *= static_cast<uint64_t>(ne);
        t.shape.push_back(ne);
      }
      uint32_t type_id = c.read<uint32_t>();
      auto tr = dtype_traits(type_id);
      if (!tr) return where(fmt::format("unknown tensor type id {}", type_id));
      t.type = static_cast<DType>(type_id);
      if (t.shape[0] % tr->block_size != 0)
        return where(fmt::format("row of {} elements is not a multiple of {}'s block size {}",
                                 t.shape[0], tr->name, tr->block_size));
      t.n_bytes = t.n_elements / tr->block_size * tr->type_size;
      t.offset = c.read<uint64_t>();
      if (t.offset % f.alignment_ != 0)
        return where(fmt::format("data offset {} is not a multiple of the alignment {}", t.offset, f.alignment_));
      if (f.tensor_index_.count(t.name)) return where("duplicate tensor name");
      f.tensor_index_.emplace(t.name, f.tensors_.size());
      f.tensors_.push_back(std::move(t));
    }
    uint64_t pos = c.pos();
    f.data_offset_ = (pos + f.alignment_ - 1) / f.alignment_ * f.alignment_;
    if (!f.tensors_.empty() && f.data_offset_ > size)
      return Error{fmt::format("{}: truncated: tensor data should start at byte {} but the file has {} bytes",
                               name, f.data_offset_, size)};
    uint64_t data_size = size >= f.data_offset_ ? size - f.data_offset_ : 0;
    for (const auto& t : f.tensors_) {
      if (t.offset > data_size || t.n_bytes > data_size - t.offset)
        return Error{fmt::format("{}: tensor '{}' (bytes {}..{} of the data section at byte {}) runs past the end "
                                 "of the file ({} bytes): truncated or corrupt",
                                 name, t.name, t.offset, t.offset + t.n_bytes, f.data_offset_, size)};
    }
  } catch (const ParseError& e) {
    return Error{fmt::format("{}: {}", name, e.what())};
  } catch (const std::bad_alloc&) {
    return Error{fmt::format("{}: out of memory while parsing metadata", name)};
  }
  return f;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

std::optional<int64_t> GgufFile::get_int(std::string_view key) const {
  const GgufValue* v = find(key);
  return v && v->is_integer() ? v->as_int() : std::nullopt;
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
  const GgufValue* v = find(key);
  return v && v->is_number() && v->type() != GgufType::BOOL ? v->as_double() : std::nullopt;
}

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v || !v->as_string()) return std::nullopt;
  return *v->as_string();
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v || v->type() != GgufType::BOOL) return std::nullopt;
  return std::get<bool>(v->v);
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace slimlm
