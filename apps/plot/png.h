// PNG output: 8-bit RGB, no interlace, every row with filter 0 (none), one IDAT compressed by
// zlib. Plots are mostly flat colour, which deflate shrinks well without row filters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "canvas.h"

namespace dgc::plot {

// The PNG file bytes of `canvas`.
std::vector<std::uint8_t> encode_png(const Canvas& canvas);

// Writes `canvas` to `path` as PNG, atomically (apps::write_file_atomically): `path` is either
// untouched or complete, and no temporary file is left behind on failure.
void write_png(const std::string& path, const Canvas& canvas);

}  // namespace dgc::plot
