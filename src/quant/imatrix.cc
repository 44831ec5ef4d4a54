#include "quant/imatrix.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "io/atomic_file.h"

namespace slimlm {

std::vector<float> ImatrixEntry::importance() const {
  std::vector<float> v(values);
  if (n_calls > 0)
    for (auto& x : v) x /= static_cast<float>(n_calls);
  return v;
}

const ImatrixEntry* Imatrix::find(const std::string& name) const {
  for (const auto& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

Result<Imatrix> load_imatrix(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{fmt::format("{}: cannot open", path)};
  const std::string d((std::istreambuf_iterator<char>(in)), {});
  size_t p = 0;
  auto i32 = [&](const char* what, int32_t* v) -> Status {
    if (d.size() - p < 4) return Error{fmt::format("{}: truncated at byte {} reading {}", path, p, what)};
    std::memcpy(v, d.data() + p, 4);
    p += 4;
    return {};
  };
  Imatrix m;
  int32_t n = 0;
  SLIMLM_RETURN_IF_ERROR(i32("the entry count", &n));
  if (n < 0 || static_cast<uint64_t>(n) > (d.size() - p) / 12)
    return Error{fmt::format("{}: {} entries do not fit in {} bytes", path, n, d.size())};
  for (int32_t i = 0; i < n; ++i) {
    ImatrixEntry e;
    int32_t len = 0, nval = 0;
    SLIMLM_RETURN_IF_ERROR(i32("a name length", &len));
    if (len <= 0 || static_cast<size_t>(len) > d.size() - p)
      return Error{fmt::format("{}: entry {} at byte {}: name length {} is invalid", path, i, p - 4, len)};
    e.name.assign(d.data() + p, static_cast<size_t>(len));
    p += static_cast<size_t>(len);
    SLIMLM_RETURN_IF_ERROR(i32("a call count", &e.n_calls));
    SLIMLM_RETURN_IF_ERROR(i32("a value count", &nval));
    if (nval < 0 || static_cast<uint64_t>(nval) * 4 > d.size() - p)
      return Error{fmt::format("{}: entry '{}' at byte {}: {} values do not fit", path, e.name, p - 4, nval)};
    e.values.resize(static_cast<size_t>(nval));
    std::memcpy(e.values.data(), d.data() + p, static_cast<size_t>(nval) * 4);
    p += static_cast<size_t>(nval) * 4;
    m.entries.push_back(std::move(e));
  }
  if (d.size() - p >= 4) {  // the optional trailer
    SLIMLM_RETURN_IF_ERROR(i32("the chunk count", &m.chunks));
    int32_t len = 0;
    if (d.size() - p >= 4) {
      SLIMLM_RETURN_IF_ERROR(i32("the dataset name length", &len));
      if (len < 0 || static_cast<size_t>(len) > d.size() - p)
        return Error{fmt::format("{}: dataset name length {} at byte {} is invalid", path, len, p - 4)};
      m.dataset.assign(d.data() + p, static_cast<size_t>(len));
    }
  }
  return m;
}

Status save_imatrix(const Imatrix& m, const std::string& path) {
  std::string out;
  auto i32 = [&](int32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); };
  i32(static_cast<int32_t>(m.entries.size()));
  for (const auto& e : m.entries) {
    i32(static_cast<int32_t>(e.name.size()));
    out += e.name;
    i32(e.n_calls);
    i32(static_cast<int32_t>(e.values.size()));
    out.append(reinterpret_cast<const char*>(e.values.data()), e.values.size() * 4);
  }
  i32(m.chunks);
  i32(static_cast<int32_t>(m.dataset.size()));
  out += m.dataset;
  SLIMLM_ASSIGN_OR_RETURN(AtomicFile f, AtomicFile::create(path));
  SLIMLM_RETURN_IF_ERROR(f.write(out.data(), out.size()));
  return f.commit();
}

}  // namespace slimlm
