// The figure: learning curves of several runs in two panels side by side, like Figure 2 of the
// Deep Gradient Compression paper. Left, the training loss against epochs (a light raw line and
// a bold moving average per run); right, the test top-1 accuracy against epochs with a marker per
// evaluation. Axes with round-valued ticks, a legend underneath, an optional title on top.
#pragma once

#include <string>
#include <vector>

#include "canvas.h"
#include "metrics.h"

namespace dgc::plot {

// Limits on each side of the figure, in pixels.
constexpr int kMinSide = 200;
constexpr int kMaxSide = 8000;

struct FigureOptions {
  std::string title;  // none when empty
  int width = 1200;
  int height = 500;
};

// An axis range and its ticks: multiples of 1, 2 or 5 times a power of ten inside [lo, hi].
struct Axis {
  double lo = 0, hi = 1;
  std::vector<double> ticks;
  int decimals = 0;  // enough for the tick step
};

// An axis covering [lo, hi] with a small margin on each side and about `target_ticks` ticks. A
// flat range gets room around its value; an empty or non-finite one becomes [0, 1].
Axis nice_axis(double lo, double hi, int target_ticks);

// `value` printed with the axis's decimals ("0.5", "12"), never "-0".
std::string tick_label(const Axis& axis, double value);

// The colour of the run at `index` in the legend: distinct for the first 8, then repeating.
Color run_color(std::size_t index);

struct Figure {
  Canvas canvas;
  Rect loss_area;  // the plot areas inside the axes, where curves are drawn
  Rect top1_area;
};

// Draws the runs (at least one) into a new figure of the options' size.
Figure draw_figure(const std::vector<RunCurves>& runs, const FigureOptions& options);

}  // namespace dgc::plot
