#include "io/gguf_writer.h"

#include <fmt/format.h>

namespace slimlm {
namespace {

// Serialises metadata into a byte buffer (metadata is small next to tensors).
class Encoder {
 public:
  template <class T>
  void put(T v) {
    const char* p = reinterpret_cast<const char*>(&v);
    buf.append(p, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    buf += s;
  }
  void put_value(const GgufValue& v) {
    std::visit(
        [this](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::string>) {
            put_string(x);
          } else if constexpr (std::is_same_v<T, GgufArray>) {
            put<uint32_t>(static_cast<uint32_t>(x.type));
            put<uint64_t>(x.items.size());
            for (const auto& item : x.items) put_value(item);
          } else if constexpr (std::is_same_v<T, bool>) {
            put<uint8_t>(x ? 1 : 0);
          } else {
            put<T>(x);
          }
        },
        v.v);
  }
  std::string buf;
};

}  // namespace

void GgufWriter::set(const std::string& key, GgufValue value) {
  for (auto& [k, v] : kv_)
    if (k == key) {
      v = std::move(value);
      return;
    }
  kv_.emplace_back(key, std::move(value));
}

void GgufWriter::remove(const std::string& key) {
  std::erase_if(kv_, [&](const auto& p) { return p.first == key; });
}

uint32_t GgufWriter::alignment() const {
  for (const auto& [k, v] : kv_)
    if (k == "general.alignment" && v.type() == GgufType::U32) return std::get<uint32_t>(v.v);
  return kGgufDefaultAlignment;
}

Status GgufWriter::add_tensor(const std::string& name, const std::vector<int64_t>& shape, DType type) {
  if (out_) return Error{fmt::format("tensor '{}' declared after writing began", name)};
  if (shape.empty() || shape.size() > 4) return Error{fmt::format("tensor '{}': {} dimensions (1..4 allowed)", name, shape.size())};
  for (const auto& t : tensors_)
    if (t.name == name) return Error{fmt::format("duplicate tensor name '{}'", name)};
  const DTypeTraits& tr = traits(type);
  if (tr.block_size == 0) return Error{fmt::format("tensor '{}': unknown type", name)};
  GgufTensorInfo t;
  t.name = name;
  t.shape = shape;
  t.type = type;
  t.n_elements = 1;
  for (int64_t d : shape) {
    if (d < 0) return Error{fmt::format("tensor '{}': negative dimension", name)};
    t.n_elements *= static_cast<uint64_t>(d);
  }
  auto rb = row_bytes(type, static_cast<uint64_t>(shape[0]));
  if (!rb) return Error{fmt::format("tensor '{}': row of {} is not a multiple of {}'s block size {}", name, shape[0],
                                    tr.name, tr.block_size)};
  t.n_bytes = t.n_elements / tr.block_size * tr.type_size;
  uint64_t al = alignment();
  if (!tensors_.empty()) {
    const auto& prev = tensors_.back();
    t.offset = (prev.offset + prev.n_bytes + al - 1) / al * al;
  }
  tensors_.push_back(std::move(t));
  return {};
}

Status GgufWriter::begin(const std::string& path) {
  if (out_) return Error{"GgufWriter::begin called twice"};
  uint32_t al = alignment();
  if (al == 0 || (al & (al - 1)) != 0) return Error{fmt::format("general.alignment {} is not a power of two", al)};
  Encoder e;
  e.put<uint32_t>(kGgufMagic);
  e.put<uint32_t>(version_);
  e.put<uint64_t>(tensors_.size());
  e.put<uint64_t>(kv_.size());
  for (const auto& [k, v] : kv_) {
    e.put_string(k);
    e.put<uint32_t>(static_cast<uint32_t>(v.type()));
    e.put_value(v);
  }
  for (const auto& t : tensors_) {
    e.put_string(t.name);
    e.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) e.put<int64_t>(d);
    e.put<uint32_t>(static_cast<uint32_t>(t.type));
    e.put<uint64_t>(t.offset);
  }
  SLIMLM_ASSIGN_OR_RETURN(auto f, AtomicFile::create(path));
  out_.emplace(std::move(f));
  SLIMLM_RETURN_IF_ERROR(out_->write(e.buf.data(), e.buf.size()));
  // llama.cpp pads to the data section only when there is one (vocab-only files end here).
  data_start_ = tensors_.empty() ? e.buf.size() : (e.buf.size() + al - 1) / al * al;
  SLIMLM_RETURN_IF_ERROR(out_->write_zeros(data_start_ - e.buf.size()));
  cur_ = 0;
  cur_written_ = 0;
  return {};
}

Status GgufWriter::write(const void* data, uint64_t n) {
  if (!out_) return Error{"GgufWriter::write before begin"};
  while (cur_ < tensors_.size() && tensors_[cur_].n_bytes == 0) ++cur_;
  if (cur_ >= tensors_.size()) return Error{"GgufWriter::write: all tensors already written"};
  const auto& t = tensors_[cur_];
  if (cur_written_ + n > t.n_bytes)
    return Error{fmt::format("tensor '{}': {} bytes written but it holds {}", t.name, cur_written_ + n, t.n_bytes)};
  SLIMLM_RETURN_IF_ERROR(out_->write(data, n));
  cur_written_ += n;
  if (cur_written_ == t.n_bytes) {
    uint64_t al = alignment();
    uint64_t end = t.offset + t.n_bytes;
    SLIMLM_RETURN_IF_ERROR(out_->write_zeros((end + al - 1) / al * al - end));
    ++cur_;
    cur_written_ = 0;
  }
  return {};
}

Status GgufWriter::finish() {
  if (!out_) return Error{"GgufWriter::finish before begin"};
  // Zero-byte tensors complete without a write call.
  while (cur_ < tensors_.size() && tensors_[cur_].n_bytes == 0) ++cur_;
  if (cur_ != tensors_.size())
    return Error{fmt::format("tensor '{}' and {} more were not written", tensors_[cur_].name,
                             tensors_.size() - cur_ - 1)};
  Status st = out_->commit();
  out_.reset();
  return st;
}

}  // namespace slimlm
