// The result of `slimlm compare` — one row per (type, method) — and its three
// renderings: a Markdown table, JSON, and an SVG Pareto plot of mean
// KL-divergence against bits per weight.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace slimlm {

struct CompareRow {
  std::string type;    // "q4_k_m", "int4g64", "f32 (base)", ...
  std::string method;  // "rtn", "hqq", "-" for the base
  bool base = false;
  double file_mib = 0;
  double bits_per_weight = 0;  // tensor bytes * 8 / parameters
  double ppl = 0, ppl_err = 0;
  double kld = 0, kld_err = 0;  // mean KL-divergence against the base
  double kld_p99 = 0;
  double top1 = 0;              // same top token as the base, in [0, 1]
  double tg_tps = 0;            // generation tokens/s (0: not measured)
  double quantize_seconds = 0;
};

struct CompareReport {
  std::string model, text;
  int64_t n_ctx = 0, n_chunks = 0, n_positions = 0;
  int threads = 0;
  std::vector<CompareRow> rows;  // the base first
};

// Indices of the rows on the Pareto front (no other row has both fewer bits
// per weight and a lower mean KLD), by increasing bits; the base excluded.
std::vector<size_t> pareto_front(const std::vector<CompareRow>& rows);

std::string compare_table_markdown(const CompareReport& r);
nlohmann::json compare_json(const CompareReport& r);
// KLD (log scale) against bits per weight; one colour per method, the front
// drawn as a line, every point labelled with its type.
std::string compare_pareto_svg(const CompareReport& r, const std::string& title);

}  // namespace slimlm
