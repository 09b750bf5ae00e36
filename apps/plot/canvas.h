// An 8-bit RGB raster to draw the figure on.
//
// Every pixel write goes through one bounds check against the clip rectangle, which is always
// inside the canvas: coordinates from any input (huge, negative, NaN) can only leave pixels
// unpainted, never write outside the buffer. Lines and discs are anti-aliased by coverage, so
// their centre pixels carry the exact colour and their edges blend into what is below.
#pragma once

#include <cstdint>
#include <vector>

namespace dgc::plot {

struct Color {
  std::uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Color& other) const { return r == other.r && g == other.g && b == other.b; }
  bool operator!=(const Color& other) const { return !(*this == other); }
};

// `from` moved towards `to` by the fraction t in [0, 1], rounded per channel.
Color mix(Color from, Color to, double t);

// Pixels [left, right) x [top, bottom).
struct Rect {
  int left = 0, top = 0, right = 0, bottom = 0;
  int width() const { return right - left; }
  int height() const { return bottom - top; }
  bool contains(int x, int y) const { return x >= left && x < right && y >= top && y < bottom; }
};

class Canvas {
 public:
  // A width x height raster filled with `background`; both sides must be positive.
  Canvas(int width, int height, Color background);

  int width() const { return width_; }
  int height() const { return height_; }
  // The pixel at (x, y), which must be on the canvas.
  Color at(int x, int y) const;
  // Rows top to bottom, 3 bytes per pixel.
  const std::vector<std::uint8_t>& rgb() const { return rgb_; }

  // Later drawing only touches pixels inside `clip` (intersected with the canvas).
  void set_clip(const Rect& clip);
  void reset_clip() { set_clip({0, 0, width_, height_}); }

  // Blends `color` over the pixel with weight `coverage` in [0, 1]; no-op outside the clip.
  void blend(int x, int y, Color color, double coverage = 1.0);
  void fill_rect(const Rect& rect, Color color);
  // A segment of the given thickness (pixels) with round ends; pixel (i, j) is the point (i, j).
  void line(double x0, double y0, double x1, double y1, Color color, double thickness);
  // A filled disc.
  void disc(double cx, double cy, double radius, Color color);

 private:
  // Paints every pixel within `reach` of the box [x0, x1] x [y0, y1] (clipped) with the
  // coverage `coverage_at(i, j)` returns.
  template <typename Coverage>
  void paint(double x0, double y0, double x1, double y1, double reach, Color color,
             Coverage coverage_at);

  int width_;
  int height_;
  Rect clip_;
  std::vector<std::uint8_t> rgb_;
};

}  // namespace dgc::plot
