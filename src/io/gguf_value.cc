// GgufValue helpers: type names, numeric conversion, printing, equality.
#include <cmath>

#include <fmt/format.h>

#include "io/gguf.h"

namespace slimlm {

std::string_view gguf_type_name(GgufType t) {
  static constexpr std::string_view kNames[] = {"u8",  "i8",     "u16",   "i16", "u32",
                                                "i32", "f32",    "bool",  "str", "arr",
                                                "u64", "i64",    "f64"};
  auto i = static_cast<uint32_t>(t);
  return i < std::size(kNames) ? kNames[i] : std::string_view("?");
}

bool GgufValue::is_integer() const {
  switch (type()) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
    case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64:
      return true;
    default:
      return false;
  }
}

bool GgufValue::is_number() const {
  return is_integer() || type() == GgufType::F32 || type() == GgufType::F64 ||
         type() == GgufType::BOOL;
}

std::optional<int64_t> GgufValue::as_int() const {
  return std::visit(
      [](const auto& x) -> std::optional<int64_t> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, uint64_t>) {
          if (x > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
          return static_cast<int64_t>(x);
        } else if constexpr (std::is_integral_v<T>) {
          return static_cast<int64_t>(x);
        } else if constexpr (std::is_floating_point_v<T>) {
          if (!std::isfinite(x) || std::fabs(x) > 9.0e18) return std::nullopt;
          return static_cast<int64_t>(x);
        } else {
          return std::nullopt;
        }
      },
      v);
}

std::optional<double> GgufValue::as_double() const {
  return std::visit(
      [](const auto& x) -> std::optional<double> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_arithmetic_v<T>) return static_cast<double>(x);
        else return std::nullopt;
      },
      v);
}

std::string GgufValue::to_string(size_t max_items) const {
  if (auto* s = as_string()) {
    std::string out = "\"";
    for (size_t i = 0; i < s->size() && i < 120; ++i) {
      char c = (*s)[i];
      if (c == '\n') out += "\\n";
      else if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\x{:02x}", c);
      else out += c;
    }
    if (s->size() > 120) out += "…";
    return out + "\"";
  }
  if (auto* a = as_array()) {
    std::string out = fmt::format("[{} x {}] [", a->items.size(), gguf_type_name(a->type));
    for (size_t i = 0; i < a->items.size() && i < max_items; ++i)
      out += (i ? ", " : "") + a->items[i].to_string(max_items);
    if (a->items.size() > max_items) out += ", …";
    return out + "]";
  }
  if (type() == GgufType::BOOL) return std::get<bool>(v) ? "true" : "false";
  if (type() == GgufType::F32) return fmt::format("{}", std::get<float>(v));
  if (type() == GgufType::F64) return fmt::format("{}", std::get<double>(v));
  if (type() == GgufType::U64) return fmt::format("{}", std::get<uint64_t>(v));
  return fmt::format("{}", as_int().value_or(0));
}

bool operator==(const GgufArray& a, const GgufArray& b) {
  return a.type == b.type && a.items == b.items;
}

bool GgufValue::operator==(const GgufValue& o) const {
  if (type() != o.type()) return false;
  // Compare floats bitwise so NaN payloads and -0.0 round-trip exactly.
  if (type() == GgufType::F32) {
    float x = std::get<float>(v), y = std::get<float>(o.v);
    return std::memcmp(&x, &y, sizeof x) == 0;
  }
  if (type() == GgufType::F64) {
    double x = std::get<double>(v), y = std::get<double>(o.v);
    return std::memcmp(&x, &y, sizeof x) == 0;
  }
  return v == o.v;
}

}  // namespace slimlm
