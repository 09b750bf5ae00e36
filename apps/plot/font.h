// A 5x7 bitmap font with one row below the baseline for descenders, ASCII 32..126, drawn at an
// integer scale. Embedded so the plot needs no font files or libraries; other bytes draw as '?'.
#pragma once

#include <string_view>

#include "canvas.h"

namespace dgc::plot {

// A character cell is kAdvance x kLineHeight font pixels, times the scale.
constexpr int kAdvance = 6;
constexpr int kLineHeight = 8;

enum class Direction { kRight, kUp };

// Width in pixels of `text` at `scale` (no trailing gap after the last glyph).
int text_width(std::string_view text, int scale);
// Height in pixels of one line at `scale`, descenders included.
inline int text_height(int scale) { return kLineHeight * scale; }

// Draws `text` whose box starts at (x, y): its top-left corner for kRight; for kUp (read bottom to
// top, rotated 90 degrees counter-clockwise) its bottom-left corner.
void draw_text(Canvas& canvas, int x, int y, std::string_view text, Color color, int scale,
               Direction direction = Direction::kRight);

}  // namespace dgc::plot
