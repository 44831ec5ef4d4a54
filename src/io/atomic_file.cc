#include "io/atomic_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace slimlm {

Result<AtomicFile> AtomicFile::create(const std::string& path) {
  if (path.empty()) return Error{"output path is empty"};
  AtomicFile a;
  a.path_ = path;
  std::vector<char> tmpl(path.begin(), path.end());
  const char suffix[] = ".tmp.XXXXXX";
  tmpl.insert(tmpl.end(), suffix, suffix + sizeof(suffix));  // includes '\0'
  int fd = mkstemp(tmpl.data());
  if (fd < 0) return Error{fmt::format("{}: cannot create temporary file: {}", path, std::strerror(errno))};
  a.tmp_path_ = tmpl.data();
  // mkstemp creates mode 0600; give the output the usual permissions.
  mode_t mask = umask(0);
  umask(mask);
  fchmod(fd, 0666 & ~mask);
  a.f_ = fdopen(fd, "wb");
  if (!a.f_) {
    ::close(fd);
    ::unlink(a.tmp_path_.c_str());
    return Error{fmt::format("{}: fdopen failed", path)};
  }
  return a;
}

AtomicFile::AtomicFile(AtomicFile&& o) noexcept
    : path_(std::move(o.path_)), tmp_path_(std::move(o.tmp_path_)), f_(o.f_), offset_(o.offset_) {
  o.f_ = nullptr;
  o.tmp_path_.clear();
}

AtomicFile::~AtomicFile() {
  if (f_) std::fclose(f_);
  if (!tmp_path_.empty()) ::unlink(tmp_path_.c_str());
}

Status AtomicFile::write(const void* data, size_t n) {
  if (!f_) return Error{fmt::format("{}: file already closed", path_)};
  if (n && std::fwrite(data, 1, n, f_) != n)
    return Error{fmt::format("{}: write failed at byte {}: {}", path_, offset_, std::strerror(errno))};
  offset_ += n;
  return {};
}

Status AtomicFile::write_zeros(size_t n) {
  static const char zeros[256] = {};
  while (n) {
    size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
    SLIMLM_RETURN_IF_ERROR(write(zeros, k));
    n -= k;
  }
  return {};
}

Status AtomicFile::commit() {
  if (!f_) return Error{fmt::format("{}: file already closed", path_)};
  bool ok = std::fflush(f_) == 0 && fsync(fileno(f_)) == 0;
  ok = (std::fclose(f_) == 0) && ok;
  f_ = nullptr;
  if (!ok) return Error{fmt::format("{}: flush failed: {}", path_, std::strerror(errno))};
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    return Error{fmt::format("{}: rename from {} failed: {}", path_, tmp_path_, std::strerror(errno))};
  tmp_path_.clear();
  return {};
}

}  // namespace slimlm
