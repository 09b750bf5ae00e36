#include "figure.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

#include "dgc/error.h"
#include "font.h"

namespace dgc::plot {
namespace {

constexpr Color kWhite{255, 255, 255};
constexpr Color kInk{30, 30, 30};           // text, ticks, frames
constexpr Color kGrid{228, 228, 228};       // grid lines at the ticks
constexpr int kMovingAverageWindow = 9;     // points, centred
constexpr double kRawLineLightening = 0.6;  // how far the raw loss line fades towards white

// The first eight of matplotlib's tab10 colours, distinct from each other and from the grid.
constexpr Color kPalette[] = {{31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                              {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127}};

// Sizes in pixels for a text scale s: everything scales with the text so the figure keeps its
// proportions from small to large canvases.
struct Sizes {
  int s;
  int margin() const { return 8 * s; }
  int line() const { return text_height(s); }
  int tick() const { return 3 * s; }
  int gap() const { return 3 * s; }
  int text_middle() const { return 7 * s / 2; }  // below a line's top: the middle of a capital
  double raw_thickness() const { return 0.75 * s; }
  double accuracy_thickness() const { return 1.125 * s; }
  double bold_thickness() const { return 1.5 * s; }
  double marker_radius() const { return 2.0 * s; }
  int swatch() const { return 16 * s; }
  int spacing() const { return 12 * s; }  // between the panels, and between legend entries
};

struct Panel {
  const char* title;
  const char* y_title;
  Axis x, y;
  Rect area;

  double to_x(double value) const {
    return area.left + (value - x.lo) / (x.hi - x.lo) * (area.width() - 1);
  }
  double to_y(double value) const {
    return area.bottom - 1 - (value - y.lo) / (y.hi - y.lo) * (area.height() - 1);
  }
};

// The smallest and largest finite `coordinate` of the runs' `series`; (inf, -inf) when none is.
std::pair<double, double> range_of(const std::vector<RunCurves>& runs,
                                   const std::vector<Point> RunCurves::*series,
                                   double Point::*coordinate) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const RunCurves& run : runs) {
    for (const Point& point : run.*series) {
      const double value = point.*coordinate;
      if (!std::isfinite(value)) continue;
      lo = std::min(lo, value);
      hi = std::max(hi, value);
    }
  }
  return {lo, hi};
}

// A y axis for the runs' series.
Axis y_axis(const std::vector<RunCurves>& runs, const std::vector<Point> RunCurves::*series) {
  const auto [lo, hi] = range_of(runs, series, &Point::y);
  return nice_axis(lo, hi, 6);
}

// Centred moving average over up to `window` points, cut short at both ends (so the ends stay
// smooth, at the price of lagging where the curve is steep).
std::vector<Point> moving_average(const std::vector<Point>& points, int window) {
  const int half = window / 2, n = static_cast<int>(points.size());
  std::vector<Point> smooth;
  for (int i = 0; i < n; ++i) {
    const int first = std::max(0, i - half), last = std::min(n - 1, i + half);
    double sum = 0;
    for (int j = first; j <= last; ++j) sum += points[j].y;
    smooth.push_back({points[i].x, sum / (last - first + 1)});
  }
  return smooth;
}

// Consecutive points joined; a lone point shows as a dot. Non-finite points leave gaps.
void polyline(Canvas& canvas, const Panel& panel, const std::vector<Point>& points, Color color,
              double thickness) {
  for (std::size_t i = 0; i < points.size(); ++i) {
    const Point& from = points[i == 0 ? 0 : i - 1];
    canvas.line(panel.to_x(from.x), panel.to_y(from.y), panel.to_x(points[i].x),
                panel.to_y(points[i].y), color, thickness);
  }
}

void draw_text_centred(Canvas& canvas, int centre_x, int top, const std::string& text, int scale) {
  draw_text(canvas, centre_x - text_width(text, scale) / 2, top, text, kInk, scale);
}

int widest_tick_label(const Axis& axis, int scale) {
  int widest = 0;
  for (double tick : axis.ticks)
    widest = std::max(widest, text_width(tick_label(axis, tick), scale));
  return widest;
}

// Grid, frame, ticks, tick labels and titles of a panel whose area is laid out.
void draw_axes(Canvas& canvas, const Panel& panel, const Sizes& sz) {
  const Rect& a = panel.area;
  for (double tick : panel.x.ticks) {
    const int x = static_cast<int>(std::lround(panel.to_x(tick)));
    canvas.fill_rect({x, a.top, x + 1, a.bottom}, kGrid);
    canvas.fill_rect({x, a.bottom, x + 1, a.bottom + sz.tick()}, kInk);
    draw_text_centred(canvas, x, a.bottom + sz.tick() + sz.s, tick_label(panel.x, tick), sz.s);
  }
  for (double tick : panel.y.ticks) {
    const int y = static_cast<int>(std::lround(panel.to_y(tick)));
    canvas.fill_rect({a.left, y, a.right, y + 1}, kGrid);
    canvas.fill_rect({a.left - sz.tick(), y, a.left, y + 1}, kInk);
    const std::string label = tick_label(panel.y, tick);
    draw_text(canvas, a.left - sz.tick() - sz.s - text_width(label, sz.s), y - sz.text_middle(),
              label, kInk, sz.s);
  }
  // The frame sits just outside the area, so curves never cover it.
  canvas.fill_rect({a.left - 1, a.top - 1, a.right + 1, a.top}, kInk);
  canvas.fill_rect({a.left - 1, a.bottom, a.right + 1, a.bottom + 1}, kInk);
  canvas.fill_rect({a.left - 1, a.top, a.left, a.bottom}, kInk);
  canvas.fill_rect({a.right, a.top, a.right + 1, a.bottom}, kInk);

  const int centre_x = (a.left + a.right) / 2;
  draw_text_centred(canvas, centre_x, a.top - sz.gap() - sz.line(), panel.title, sz.s);
  draw_text_centred(canvas, centre_x, a.bottom + sz.tick() + sz.s + sz.line() + sz.gap(), "epoch",
                    sz.s);
  const int y_title_left =
      a.left - sz.tick() - sz.s - widest_tick_label(panel.y, sz.s) - sz.gap() - sz.line();
  draw_text(canvas, y_title_left, (a.top + a.bottom + text_width(panel.y_title, sz.s)) / 2,
            panel.y_title, kInk, sz.s, Direction::kUp);
}

// The swatch (a bold line with a marker, as in the panels) and label of a legend entry.
void draw_legend_entry(Canvas& canvas, int left, int top, const RunCurves& run, Color color,
                       const Sizes& sz) {
  const double y = top + sz.text_middle();
  canvas.line(left, y, left + sz.swatch(), y, color, sz.bold_thickness());
  canvas.disc(left + sz.swatch() / 2.0, y, sz.marker_radius(), color);
  draw_text(canvas, left + sz.swatch() + sz.gap(), top, run.label, kInk, sz.s);
}

int legend_entry_width(const RunCurves& run, const Sizes& sz) {
  return sz.swatch() + sz.gap() + text_width(run.label, sz.s);
}

// The legend in rows that wrap within `width`: each row's run indices and total width.
struct LegendRow {
  std::vector<std::size_t> runs;
  int width = 0;
};
std::vector<LegendRow> legend_rows(const std::vector<RunCurves>& runs, int width, const Sizes& sz) {
  std::vector<LegendRow> rows(1);
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const int entry = legend_entry_width(runs[i], sz);
    if (!rows.back().runs.empty() && rows.back().width + sz.spacing() + entry > width) {
      rows.emplace_back();
    }
    LegendRow& row = rows.back();
    row.width += (row.runs.empty() ? 0 : sz.spacing()) + entry;
    row.runs.push_back(i);
  }
  return rows;
}

}  // namespace

Axis nice_axis(double lo, double hi, int target_ticks) {
  if (!(lo <= hi) || !std::isfinite(hi - lo)) lo = 0, hi = 1;
  // A flat range, or one too narrow for its magnitude in doubles, gets room around its value.
  if (hi - lo <= 1e-12 * std::max(std::abs(lo), std::abs(hi)) + 1e-200) {
    const double pad = std::max(0.5, 0.05 * std::abs(hi));
    lo -= pad;
    hi += pad;
  }
  Axis axis;
  const double margin = 0.04 * (hi - lo);
  axis.lo = lo - margin;
  axis.hi = hi + margin;

  const double raw_step = (axis.hi - axis.lo) / std::max(target_ticks, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw_step)));
  const double fraction = raw_step / magnitude;
  const double step = magnitude * (fraction < 1.5   ? 1
                                   : fraction < 3.5 ? 2
                                   : fraction < 7.5 ? 5
                                                    : 10);
  axis.decimals = std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 12);

  // Count from an integer index: at large offsets, adding `step` to a double may not advance.
  const double first = std::ceil(axis.lo / step - 1e-9);
  const double count = std::floor(axis.hi / step + 1e-9) - first + 1;
  for (int i = 0; i < std::min(count, 100.0); ++i) axis.ticks.push_back((first + i) * step);
  return axis;
}

std::string tick_label(const Axis& axis, double value) {
  if (std::abs(value) < 0.5 * std::pow(10.0, -axis.decimals)) value = 0;  // no "-0"
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", axis.decimals, value);
  return text;
}

Color run_color(std::size_t index) {
  return kPalette[index % (sizeof kPalette / sizeof kPalette[0])];
}

Figure draw_figure(const std::vector<RunCurves>& runs, const FigureOptions& options) {
  DGC_CHECK(!runs.empty(), "no runs to plot");
  DGC_CHECK(options.width >= kMinSide && options.width <= kMaxSide && options.height >= kMinSide &&
                options.height <= kMaxSide,
            "figure size ", options.width, "x", options.height, " is outside ", kMinSide, "..",
            kMaxSide, " pixels per side");
  const Sizes sz{std::clamp(std::min(options.width / 500, options.height / 220), 1, 4)};
  Figure figure{Canvas(options.width, options.height, kWhite), {}, {}};
  Canvas& canvas = figure.canvas;

  // Both panels share the epoch axis, from 0 to the last point of either, with ticks about three
  // two-digit labels apart.
  const int panel_width = (options.width - 2 * sz.margin() - sz.spacing()) / 2;
  const Axis x = nice_axis(0,
                           std::max(range_of(runs, &RunCurves::loss, &Point::x).second,
                                    range_of(runs, &RunCurves::top1, &Point::x).second),
                           std::clamp(panel_width / (3 * text_width("00", sz.s)), 2, 8));
  Panel loss{"training loss", "loss", x, y_axis(runs, &RunCurves::loss), {}};
  Panel top1{"test top-1 (%)", "top-1 (%)", x, y_axis(runs, &RunCurves::top1), {}};

  // Layout from the outside in: title on top, legend at the bottom, two panels between.
  int top = sz.margin();
  if (!options.title.empty()) {
    // One size larger than the rest where it fits the width; a long title gets the body size.
    const bool fits = text_width(options.title, sz.s + 1) <= options.width - 2 * sz.margin();
    const int title_scale = fits ? sz.s + 1 : sz.s;
    draw_text_centred(canvas, options.width / 2, top, options.title, title_scale);
    top += text_height(title_scale) + 2 * sz.gap();
  }
  const int legend_width = options.width - 2 * sz.margin();
  const auto rows = legend_rows(runs, legend_width, sz);
  const int row_height = sz.line() + sz.gap();
  const int legend_top = options.height - sz.margin() - static_cast<int>(rows.size()) * row_height;
  const int area_top = top + sz.line() + sz.gap();
  // Under each area: ticks, tick labels, the x title, then a gap above the legend.
  const int area_bottom =
      legend_top - 2 * sz.gap() - sz.line() - sz.gap() - sz.line() - sz.s - sz.tick();
  for (int i = 0; i < 2; ++i) {
    Panel& panel = i == 0 ? loss : top1;
    const int left = sz.margin() + i * (panel_width + sz.spacing());
    const int right_label = text_width(tick_label(x, x.ticks.empty() ? 0 : x.ticks.back()), sz.s);
    panel.area = {left + sz.line() + sz.gap() + widest_tick_label(panel.y, sz.s) + sz.s + sz.tick(),
                  area_top, left + panel_width - right_label / 2 - sz.s, area_bottom};
    draw_axes(canvas, panel, sz);
  }

  // Curves inside the areas only, raw loss lines below everything else.
  canvas.set_clip(loss.area);
  for (std::size_t r = 0; r < runs.size(); ++r) {
    polyline(canvas, loss, runs[r].loss, mix(run_color(r), kWhite, kRawLineLightening),
             sz.raw_thickness());
  }
  for (std::size_t r = 0; r < runs.size(); ++r) {
    polyline(canvas, loss, moving_average(runs[r].loss, kMovingAverageWindow), run_color(r),
             sz.bold_thickness());
  }
  canvas.set_clip(top1.area);
  for (std::size_t r = 0; r < runs.size(); ++r) {
    polyline(canvas, top1, runs[r].top1, run_color(r), sz.accuracy_thickness());
    for (const Point& point : runs[r].top1) {
      canvas.disc(top1.to_x(point.x), top1.to_y(point.y), sz.marker_radius(), run_color(r));
    }
  }
  canvas.reset_clip();

  for (std::size_t row = 0; row < rows.size(); ++row) {
    int left = (options.width - rows[row].width) / 2;
    for (std::size_t i : rows[row].runs) {
      draw_legend_entry(canvas, left, legend_top + static_cast<int>(row) * row_height, runs[i],
                        run_color(i), sz);
      left += legend_entry_width(runs[i], sz) + sz.spacing();
    }
  }
  figure.loss_area = loss.area;
  figure.top1_area = top1.area;
  return figure;
}

}  // namespace dgc::plot
