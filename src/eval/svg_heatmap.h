// A small, dependency-free SVG heat map: a grid of colored cells with labeled
// axes, a title, a color legend and the value printed in every cell.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace slimlm {

struct HeatmapSpec {
  std::string title, subtitle, footer;  // subtitle: up to two lines split at '\n'
  std::string x_label, y_label, legend_label;
  std::vector<std::string> x_ticks;  // one per column
  std::vector<std::string> y_ticks;  // one per row, top to bottom
  std::vector<double> values;        // rows × columns, row-major; NaN: empty cell
  std::vector<std::string> cell_text;  // optional, same layout; default: the value
  double vmin = 0, vmax = 1;
  bool log_scale = false;  // color by log10(value); needs 0 < vmin < vmax; legend in decades
};

// Red (vmin) - yellow - green (vmax), as "#rrggbb"; t is clamped to [0, 1].
std::string heat_color(double t);

// Escapes & < > " ' for XML text and attributes.
std::string xml_escape(std::string_view s);

// One <rect class="cell"> per value; other rectangles (background, legend)
// carry other classes.
std::string render_heatmap_svg(const HeatmapSpec& spec);

}  // namespace slimlm
