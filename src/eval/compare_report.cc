#include "eval/compare_report.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "eval/svg_heatmap.h"  // xml_escape

namespace slimlm {

std::vector<size_t> pareto_front(const std::vector<CompareRow>& rows) {
  std::vector<size_t> idx;
  for (size_t i = 0; i < rows.size(); ++i)
    if (!rows[i].base && std::isfinite(rows[i].kld)) idx.push_back(i);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    if (rows[a].bits_per_weight != rows[b].bits_per_weight) return rows[a].bits_per_weight < rows[b].bits_per_weight;
    return rows[a].kld < rows[b].kld;
  });
  std::vector<size_t> front;
  double best = INFINITY;
  for (size_t i : idx)
    if (rows[i].kld < best) {
      best = rows[i].kld;
      front.push_back(i);
    }
  return front;
}

std::string compare_table_markdown(const CompareReport& r) {
  std::string s = fmt::format(
      "model {} | text {} | {} chunks of {} ({} scored positions) | {} threads\n\n", r.model, r.text, r.n_chunks,
      r.n_ctx, r.n_positions, r.threads);
  s += "| type | method | file MiB | bits/weight | PPL | mean KLD | KLD p99 | same top % | tg t/s | Pareto |\n";
  s += "|---|---|---:|---:|---:|---:|---:|---:|---:|:-:|\n";
  const auto front = pareto_front(r.rows);
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const CompareRow& w = r.rows[i];
    const bool on_front = std::find(front.begin(), front.end(), i) != front.end();
    s += fmt::format("| {} | {} | {:.2f} | {:.3f} | {} | {} | {} | {} | {} | {} |\n", w.type, w.method,
                     w.file_mib, w.bits_per_weight,
                     w.ppl_err > 0 ? fmt::format("{:.4f} ± {:.4f}", w.ppl, w.ppl_err) : fmt::format("{:.4f}", w.ppl),
                     w.base ? "—" : fmt::format("{:.6f} ± {:.6f}", w.kld, w.kld_err),
                     w.base ? "—" : fmt::format("{:.4f}", w.kld_p99),
                     w.base ? "—" : fmt::format("{:.2f}", 100 * w.top1),
                     w.tg_tps > 0 ? fmt::format("{:.1f}", w.tg_tps) : "—", on_front ? "●" : "");
  }
  return s;
}

nlohmann::json compare_json(const CompareReport& r) {
  nlohmann::json rows = nlohmann::json::array();
  const auto front = pareto_front(r.rows);
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const CompareRow& w = r.rows[i];
    rows.push_back({{"type", w.type},
                    {"method", w.method},
                    {"base", w.base},
                    {"file_mib", w.file_mib},
                    {"bits_per_weight", w.bits_per_weight},
                    {"ppl", w.ppl},
                    {"ppl_err", w.ppl_err},
                    {"kld_mean", w.kld},
                    {"kld_err", w.kld_err},
                    {"kld_p99", w.kld_p99},
                    {"same_top", w.top1},
                    {"tg_tokens_per_second", w.tg_tps},
                    {"quantize_seconds", w.quantize_seconds},
                    {"pareto", std::find(front.begin(), front.end(), i) != front.end()}});
  }
  return {{"model", r.model},       {"text", r.text},       {"n_ctx", r.n_ctx}, {"n_chunks", r.n_chunks},
          {"n_positions", r.n_positions}, {"threads", r.threads}, {"rows", rows}};
}

std::string compare_pareto_svg(const CompareReport& r, const std::string& title) {
  constexpr double W = 980, H = 620, L = 80, R = 170, T = 50, B = 60;
  std::vector<size_t> pts;
  for (size_t i = 0; i < r.rows.size(); ++i)
    if (!r.rows[i].base && r.rows[i].kld > 0 && std::isfinite(r.rows[i].kld)) pts.push_back(i);
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (size_t i : pts) {
    x0 = std::min(x0, r.rows[i].bits_per_weight);
    x1 = std::max(x1, r.rows[i].bits_per_weight);
    y0 = std::min(y0, std::log10(r.rows[i].kld));
    y1 = std::max(y1, std::log10(r.rows[i].kld));
  }
  if (pts.empty()) x0 = 0, x1 = 1, y0 = -3, y1 = 0;
  x0 = std::floor(x0 - 0.25), x1 = std::ceil(x1 + 0.25);
  y0 = std::floor(y0), y1 = std::ceil(y1);
  if (y1 <= y0) y1 = y0 + 1;
  auto px = [&](double v) { return L + (v - x0) / (x1 - x0) * (W - L - R); };
  auto py = [&](double kld) { return T + (y1 - std::log10(kld)) / (y1 - y0) * (H - T - B); };

  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect class=\"bg\" width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"24\" font-size=\"16\" font-weight=\"bold\">{3}</text>\n"
      "<text x=\"{2}\" y=\"40\" fill=\"#555\">{4}</text>\n",
      W, H, L, xml_escape(title),
      xml_escape(fmt::format("{} · {} chunks of {} · lower left is better", r.text, r.n_chunks, r.n_ctx)));
  // Grid: one line per bit, one per decade of KLD.
  for (double x = x0; x <= x1 + 1e-9; x += 1)
    s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#ddd\"/>"
                     "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
                     px(x), T, H - B, H - B + 16, x);
  for (double y = y0; y <= y1 + 1e-9; y += 1)
    s += fmt::format("<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#ddd\"/>"
                     "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">1e{5}</text>\n",
                     L, py(std::pow(10.0, y)), W - R, L - 6, py(std::pow(10.0, y)) + 4, static_cast<int>(y));
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">bits per weight</text>\n", (L + W - R) / 2,
                   H - B + 36);
  s += fmt::format("<text x=\"20\" y=\"{0}\" transform=\"rotate(-90 20 {0})\" text-anchor=\"middle\">mean KL-divergence "
                   "vs base (log)</text>\n",
                   (T + H - B) / 2);
  // The front.
  const auto front = pareto_front(r.rows);
  std::string path;
  for (size_t i : front)
    if (r.rows[i].kld > 0) path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "M" : " L", px(r.rows[i].bits_per_weight), py(r.rows[i].kld));
  if (!path.empty()) s += "<path class=\"front\" d=\"" + path + "\" fill=\"none\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n";
  // Points, coloured by method.
  static const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};
  std::map<std::string, const char*> color;
  for (size_t i : pts)
    if (!color.count(r.rows[i].method)) color[r.rows[i].method] = kColors[color.size() % 6];
  // Labels: the first free slot above or below the point (boxes of 6 px per
  // character by 11 px); a type already labelled nearby is not repeated.
  struct Box {
    double x0, y0, x1, y1;
    std::string text;
    double px, py;  // the labelled point
  };
  std::vector<Box> placed;
  for (size_t i : pts) {
    const CompareRow& w = r.rows[i];
    const double x = px(w.bits_per_weight), y = py(w.kld);
    s += fmt::format("<circle class=\"point\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"{}\"><title>{} {}: {:.3f} bpw, "
                     "KLD {:.6f}</title></circle>\n",
                     x, y, color[w.method], xml_escape(w.type), xml_escape(w.method), w.bits_per_weight, w.kld);
    bool repeated = false;
    for (const Box& b : placed) repeated = repeated || (b.text == w.type && std::hypot(b.px - x, b.py - y) < 12);
    if (repeated) continue;
    const double width = 6.0 * static_cast<double>(w.type.size());
    for (double dy : {-4.0, 12.0, -16.0, 24.0, -28.0, 36.0}) {
      const Box b{x + 6, y + dy - 9, x + 6 + width, y + dy + 2, w.type, x, y};
      bool clash = false;
      for (const Box& o : placed) clash = clash || (b.x0 < o.x1 && o.x0 < b.x1 && b.y0 < o.y1 && o.y0 < b.y1);
      if (clash && dy != 36.0) continue;
      s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"10\">{}</text>\n", x + 6, y + dy, xml_escape(w.type));
      placed.push_back(b);
      break;
    }
  }
  // Legend.
  double ly = T + 10;
  for (const auto& [m, c] : color) {
    s += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"5\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>\n", W - R + 20,
                     ly, c, W - R + 30, ly + 4, xml_escape(m));
    ly += 18;
  }
  s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>"
                   "<text x=\"{}\" y=\"{}\">Pareto front</text>\n",
                   W - R + 12, ly, W - R + 28, ly, W - R + 30, ly + 4);
  s += "</svg>\n";
  return s;
}

}  // namespace slimlm
