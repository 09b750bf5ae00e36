#include "canvas.h"

#include <algorithm>
#include <cmath>

#include "dgc/error.h"

namespace dgc::plot {
namespace {

std::uint8_t mix_channel(std::uint8_t from, std::uint8_t to, double t) {
  return static_cast<std::uint8_t>(std::lround(from + (to - from) * t));
}

// Distance from (px, py) to the segment (x0, y0)-(x1, y1); a point when both ends coincide.
double distance_to_segment(double px, double py, double x0, double y0, double x1, double y1) {
  const double dx = x1 - x0, dy = y1 - y0;
  const double length2 = dx * dx + dy * dy;
  const double t =
      length2 > 0 ? std::clamp(((px - x0) * dx + (py - y0) * dy) / length2, 0.0, 1.0) : 0.0;
  return std::hypot(px - (x0 + t * dx), py - (y0 + t * dy));
}

// Liang-Barsky: cuts the segment to the box [left, right] x [top, bottom]; false when none of
// it is inside, or its ends are not finite.
bool clip_segment(double& x0, double& y0, double& x1, double& y1, double left, double top,
                  double right, double bottom) {
  const double dx = x1 - x0, dy = y1 - y0;
  if (!std::isfinite(dx) || !std::isfinite(dy)) return false;
  double enter = 0, leave = 1;
  // Each side as p * t <= q: the segment's parameter t must satisfy all four.
  const double p[] = {-dx, dx, -dy, dy};
  const double q[] = {x0 - left, right - x0, y0 - top, bottom - y0};
  for (int side = 0; side < 4; ++side) {
    if (p[side] == 0) {
      if (q[side] < 0) return false;  // parallel to this side and outside it
    } else if (p[side] < 0) {
      enter = std::max(enter, q[side] / p[side]);
    } else {
      leave = std::min(leave, q[side] / p[side]);
    }
  }
  if (enter > leave) return false;
  const double start_x = x0, start_y = y0;
  x0 = start_x + enter * dx;
  y0 = start_y + enter * dy;
  x1 = start_x + leave * dx;
  y1 = start_y + leave * dy;
  return true;
}

}  // namespace

Color mix(Color from, Color to, double t) {
  return {mix_channel(from.r, to.r, t), mix_channel(from.g, to.g, t), mix_channel(from.b, to.b, t)};
}

Canvas::Canvas(int width, int height, Color background)
    : width_(width), height_(height), clip_{0, 0, width, height} {
  DGC_CHECK(width > 0 && height > 0, "canvas size ", width, "x", height, " is not positive");
  rgb_.resize(static_cast<std::size_t>(width) * height * 3);
  for (std::size_t i = 0; i < rgb_.size(); i += 3) {
    rgb_[i] = background.r;
    rgb_[i + 1] = background.g;
    rgb_[i + 2] = background.b;
  }
}

Color Canvas::at(int x, int y) const {
  DGC_CHECK(x >= 0 && x < width_ && y >= 0 && y < height_, "pixel (", x, ", ", y,
            ") is outside the ", width_, "x", height_, " canvas");
  const std::size_t i = (static_cast<std::size_t>(y) * width_ + x) * 3;
  return {rgb_[i], rgb_[i + 1], rgb_[i + 2]};
}

void Canvas::set_clip(const Rect& clip) {
  clip_ = {std::max(clip.left, 0), std::max(clip.top, 0), std::min(clip.right, width_),
           std::min(clip.bottom, height_)};
}

void Canvas::blend(int x, int y, Color color, double coverage) {
  // The one place pixels are written: the clip is inside the canvas, so this bounds every write.
  if (!clip_.contains(x, y) || !(coverage > 0)) return;
  const std::size_t i = (static_cast<std::size_t>(y) * width_ + x) * 3;
  const Color mixed = mix({rgb_[i], rgb_[i + 1], rgb_[i + 2]}, color, std::min(coverage, 1.0));
  rgb_[i] = mixed.r;
  rgb_[i + 1] = mixed.g;
  rgb_[i + 2] = mixed.b;
}

void Canvas::fill_rect(const Rect& rect, Color color) {
  const int top = std::max(rect.top, clip_.top), bottom = std::min(rect.bottom, clip_.bottom);
  const int left = std::max(rect.left, clip_.left), right = std::min(rect.right, clip_.right);
  for (int y = top; y < bottom; ++y) {
    for (int x = left; x < right; ++x) blend(x, y, color);
  }
}

template <typename Coverage>
void Canvas::paint(double x0, double y0, double x1, double y1, double reach, Color color,
                   Coverage coverage_at) {
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1) ||
      !std::isfinite(reach)) {
    return;
  }
  // Clamp in double before converting, so far-away coordinates cannot overflow an int and the
  // loops never run beyond the clip, however long the segment.
  const auto bound = [](double value, int lo, int hi) {
    return static_cast<int>(std::clamp(value, static_cast<double>(lo), static_cast<double>(hi)));
  };
  const int left = bound(std::floor(std::min(x0, x1) - reach), clip_.left, clip_.right);
  const int right = bound(std::ceil(std::max(x0, x1) + reach) + 1, clip_.left, clip_.right);
  const int top = bound(std::floor(std::min(y0, y1) - reach), clip_.top, clip_.bottom);
  const int bottom = bound(std::ceil(std::max(y0, y1) + reach) + 1, clip_.top, clip_.bottom);
  for (int y = top; y < bottom; ++y) {
    for (int x = left; x < right; ++x) blend(x, y, color, coverage_at(x, y));
  }
}

void Canvas::line(double x0, double y0, double x1, double y1, Color color, double thickness) {
  // Coverage falls from 1 to 0 over the pixel straddling the edge at thickness / 2.
  const double half = thickness / 2;
  // Cut the segment to the clip grown by its reach first: far ends would otherwise overflow the
  // distance arithmetic, and the rest could not show anyway.
  const double reach = half + 1;
  if (!clip_segment(x0, y0, x1, y1, clip_.left - reach, clip_.top - reach, clip_.right + reach,
                    clip_.bottom + reach)) {
    return;
  }
  paint(x0, y0, x1, y1, reach, color,
        [&](int x, int y) { return half + 0.5 - distance_to_segment(x, y, x0, y0, x1, y1); });
}

void Canvas::disc(double cx, double cy, double radius, Color color) {
  paint(cx, cy, cx, cy, radius + 1, color,
        [&](int x, int y) { return radius + 0.5 - std::hypot(x - cx, y - cy); });
}

}  // namespace dgc::plot
