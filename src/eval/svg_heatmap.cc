#include "eval/svg_heatmap.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace slimlm {
namespace {

struct Rgb {
  double r, g, b;
};

Rgb heat_rgb(double t) {
  if (!(t >= 0)) t = 0;  // NaN too
  t = std::min(t, 1.0);
  const Rgb stops[3] = {{215, 48, 39}, {254, 224, 139}, {26, 152, 80}};  // red, yellow, green
  const double x = t * 2;
  const int i = std::min(1, static_cast<int>(x));
  const double f = x - i;
  return {stops[i].r + f * (stops[i + 1].r - stops[i].r), stops[i].g + f * (stops[i + 1].g - stops[i].g),
          stops[i].b + f * (stops[i + 1].b - stops[i].b)};
}

std::string hex(const Rgb& c) {
  auto b = [](double v) { return static_cast<int>(std::lround(std::clamp(v, 0.0, 255.0))); };
  return fmt::format("#{:02x}{:02x}{:02x}", b(c.r), b(c.g), b(c.b));
}

std::string format_value(double v) {
  if (std::isnan(v)) return "";
  if (v != 0 && std::fabs(v) < 0.01) return fmt::format("{:.1e}", v);
  return fmt::format("{:.2f}", v);
}

// Position of v on the color scale, 0..1 (NaN stays NaN).
double scale_pos(const HeatmapSpec& s, double v) {
  if (s.log_scale && s.vmin > 0 && s.vmax > s.vmin) {
    const double lo = std::log10(s.vmin), hi = std::log10(s.vmax);
    return v > 0 ? (std::log10(v) - lo) / (hi - lo) : (std::isnan(v) ? v : 0.0);
  }
  return (v - s.vmin) / (s.vmax > s.vmin ? s.vmax - s.vmin : 1.0);
}

}  // namespace

std::string heat_color(double t) { return hex(heat_rgb(t)); }

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // Control characters are not allowed in XML 1.0 (tab and newline are).
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') out += ' ';
        else out += c;
    }
  }
  return out;
}

std::string render_heatmap_svg(const HeatmapSpec& s) {
  const int cols = static_cast<int>(s.x_ticks.size()), rows = static_cast<int>(s.y_ticks.size());
  const int cw = 76, ch = 28;                        // cell size
  const int left = 96, top = 86, bottom = s.footer.empty() ? 64 : 84, legend_w = 120;
  const int grid_w = cols * cw, grid_h = rows * ch;
  const int width = std::max(left + grid_w + legend_w, 560), height = top + grid_h + bottom;
  std::string o;
  o += fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
      width, height);
  o += fmt::format("<rect class=\"background\" x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>\n", width,
                   height);
  o += fmt::format("<text x=\"{}\" y=\"26\" font-size=\"17\" font-weight=\"bold\" text-anchor=\"middle\">{}</text>\n",
                   width / 2, xml_escape(s.title));
  int line = 0;  // subtitle lines, split at '\n'
  for (size_t b = 0; b < s.subtitle.size() && line < 2; ++line) {
    const size_t e = std::min(s.subtitle.find('\n', b), s.subtitle.size());
    o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#444444\" text-anchor=\"middle\">{}</text>\n",
                     width / 2, 44 + 14 * line, xml_escape(s.subtitle.substr(b, e - b)));
    b = e + 1;
  }
  // Cells.
  o += "<g class=\"cells\">\n";
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const size_t i = static_cast<size_t>(r) * cols + c;
      const double v = i < s.values.size() ? s.values[i] : std::nan("");
      const int x = left + c * cw, y = top + r * ch;
      const Rgb rgb = heat_rgb(scale_pos(s, v));
      const std::string fill = std::isnan(v) ? "#dddddd" : hex(rgb);
      o += fmt::format(
          "<rect class=\"cell\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" stroke=\"#ffffff\" "
          "stroke-width=\"1\"><title>{}, {}: {}</title></rect>\n",
          x, y, cw, ch, fill, xml_escape(s.y_ticks[r]), xml_escape(s.x_ticks[c]), format_value(v));
      const std::string text = i < s.cell_text.size() ? s.cell_text[i] : format_value(v);
      const double lum = 0.2126 * rgb.r + 0.7152 * rgb.g + 0.0722 * rgb.b;
      o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\" fill=\"{}\">{}</text>\n",
                       x + cw / 2, y + ch / 2 + 4, lum < 110 && !std::isnan(v) ? "#ffffff" : "#000000",
                       xml_escape(text));
    }
  o += "</g>\n";
  // Axes: ticks and labels.
  for (int c = 0; c < cols; ++c)
    o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{}</text>\n",
                     left + c * cw + cw / 2, top + grid_h + 18, xml_escape(s.x_ticks[c]));
  for (int r = 0; r < rows; ++r)
    o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{}</text>\n", left - 8,
                     top + r * ch + ch / 2 + 4, xml_escape(s.y_ticks[r]));
  o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\">{}</text>\n", left + grid_w / 2,
                   top + grid_h + 44, xml_escape(s.x_label));
  o += fmt::format(
      "<text x=\"{0}\" y=\"{1}\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 {0} {1})\">{2}</text>\n",
      24, top + grid_h / 2, xml_escape(s.y_label));
  if (!s.footer.empty())
    o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#444444\" text-anchor=\"middle\">{}</text>\n",
                     width / 2, top + grid_h + 70, xml_escape(s.footer));
  // Legend: a vertical gradient, vmax at the top.
  const int lx = left + grid_w + 34, ly = top, lh = std::max(grid_h, 120);
  o += "<defs><linearGradient id=\"heat\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (int k = 0; k <= 4; ++k)
    o += fmt::format("<stop offset=\"{}\" stop-color=\"{}\"/>", k / 4.0, heat_color(k / 4.0));
  o += "</linearGradient></defs>\n";
  o += fmt::format(
      "<rect class=\"legend\" x=\"{}\" y=\"{}\" width=\"16\" height=\"{}\" fill=\"url(#heat)\" stroke=\"#888888\"/>\n",
      lx, ly, lh);
  std::vector<double> ticks;
  if (s.log_scale && s.vmin > 0 && s.vmax > s.vmin) {
    for (double e = std::ceil(std::log10(s.vmin) - 1e-9); e <= std::log10(s.vmax) + 1e-9; e += 1) ticks.push_back(std::pow(10.0, e));
  } else {
    for (int k = 0; k <= 4; ++k) ticks.push_back(s.vmin + (s.vmax - s.vmin) * k / 4.0);
  }
  for (double v : ticks)
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" font-size=\"11\">{}</text>\n", lx + 22,
                     ly + lh - scale_pos(s, v) * lh + 4, fmt::format("{:g}", v));
  o += fmt::format(
      "<text x=\"{0}\" y=\"{1}\" font-size=\"11\" text-anchor=\"middle\" transform=\"rotate(90 {0} {1})\">{2}</text>\n",
      lx + 66, ly + lh / 2, xml_escape(s.legend_label));
  o += "</svg>\n";
  return o;
}

}  // namespace slimlm
