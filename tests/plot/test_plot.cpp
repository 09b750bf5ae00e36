// dgc-plot: metrics.csv parsing, the raster and font, the PNG encoder (checked by an independent
// decoder below), the figure's pixels, and the dgc-plot binary end to end, errors included.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "canvas.h"
#include "error_of.h"
#include "figure.h"
#include "font.h"
#include "metrics.h"
#include "png.h"
#include "scratch_dir.h"

namespace dgc::plot {
namespace {

using dgc::test::thrown_error_of;

constexpr Color kWhite{255, 255, 255};

// ---------------------------------------------------------------------------------------------
// Files

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// A run's metrics.csv as dgc-train writes it: 1000 inputs per epoch, a loss row every 100
// inputs, and at each epoch's end a test top-1 of `top1_first` + 2 per epoch. The loss falls
// with the epochs, lower for a higher `top1_first`.
std::string run_csv(double top1_first, int epochs) {
  std::string csv = "step,tag,value\n";
  for (int step = 100; step <= epochs * 1000; step += 100) {
    const double loss = (100 - top1_first) / 12 / (1 + step / 1000.0);
    csv += std::to_string(step) + ",loss/train," + std::to_string(loss) + "\n" +
           std::to_string(step) + ",lr,0.1\n";
    if (step % 1000 == 0) {
      const double top1 = top1_first + 2 * (step / 1000 - 1);
      csv += std::to_string(step) + ",acc/test_top1," + std::to_string(top1) + "\n" +
             std::to_string(step) + ",acc/test_top1_best," + std::to_string(top1) + "\n";
    }
  }
  return csv;
}

class PlotTest : public ::testing::Test {
 protected:
  // Writes `csv` as the metrics.csv of run directory `name`, and returns that directory.
  std::string write_run(const std::string& name, const std::string& csv) {
    const std::filesystem::path dir = scratch_.path() / name;
    write_file(dir / "metrics.csv", csv);
    return dir.string();
  }
  std::string path(const std::string& name) const { return (scratch_.path() / name).string(); }
  // Temporary files of the PNG writer left in the scratch directory (".{name}.tmp-XXXXXX").
  int temporary_files() const {
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(scratch_.path())) {
      count += entry.path().filename().string().find(".tmp-") != std::string::npos;
    }
    return count;
  }

  dgc::test::ScratchDir scratch_{"dgc-plot"};
};

// ---------------------------------------------------------------------------------------------
// metrics.csv

using MetricsTest = PlotTest;

TEST_F(MetricsTest, ReadsSeriesPerTagInStepOrderAndARepeatedStepKeepsItsLastValue) {
  // A run resumed from the checkpoint at step 20 logs steps 30 and 40 again.
  const std::string file = path("metrics.csv");
  write_file(file,
             "step,tag,value\n10,loss/train,2.5\n20,loss/train,2\n30,loss/train,1.9\n"
             "40,loss/train,1.8\n30,loss/train,1.7\n40,loss/train,1.6\n40,lr,0.1\n");
  const Metrics metrics = read_metrics(file);
  ASSERT_EQ(metrics.size(), 2u);
  const std::vector<Sample>& loss = metrics.at("loss/train");
  ASSERT_EQ(loss.size(), 4u);
  const std::int64_t steps[] = {10, 20, 30, 40};
  const double values[] = {2.5, 2, 1.7, 1.6};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(loss[i].step, steps[i]);
    EXPECT_EQ(loss[i].value, values[i]);
  }
  EXPECT_EQ(metrics.at("lr").front().value, 0.1);
}

TEST_F(MetricsTest, ReadsQuotedTagsWithCommasQuotesAndLineBreaks) {
  const std::string file = path("metrics.csv");
  write_file(file,
             "step,tag,value\r\n5,\"a,b\",1\r\n5,\"say \"\"hi\"\"\",2\n5,\"two\nlines\",3\n"
             "5,\"\",4\n6,plain,-2.5e-3");  // CRLF rows, and no line break after the last
  const Metrics metrics = read_metrics(file);
  ASSERT_EQ(metrics.size(), 5u);
  EXPECT_EQ(metrics.at("a,b").front().value, 1);
  EXPECT_EQ(metrics.at("say \"hi\"").front().value, 2);
  EXPECT_EQ(metrics.at("two\nlines").front().value, 3);
  EXPECT_EQ(metrics.at("").front().value, 4);
  EXPECT_EQ(metrics.at("plain").front().value, -2.5e-3);
}

TEST_F(MetricsTest, MalformedRowsAreErrorsNamingFileAndLine) {
  const std::string file = path("metrics.csv");
  const struct {
    std::string rows;  // after the header and a good row, so the bad one is on line 3
    std::string error;
  } cases[] = {
      {"12x,loss/train,1\n", ":3: bad step '12x'"},
      {",loss/train,1\n", ":3: bad step ''"},
      {"-5,loss/train,1\n", ":3: negative step -5"},
      {"99999999999999999999,loss/train,1\n", ":3: bad step '99999999999999999999'"},
      {"10,loss/train,1.5.2\n", ":3: bad value '1.5.2'"},
      {"10,loss/train,\n", ":3: bad value ''"},
      {"10,loss/train,1e999\n", ":3: bad value '1e999'"},
      {"10,loss/train\n", ":3: expected 3 fields (step,tag,value), found 2"},
      {"10,loss/train,1,2\n", ":3: expected 3 fields (step,tag,value), found 4"},
      {"\n", ":3: expected 3 fields (step,tag,value), found 1"},
      {"10,\"open,1\n", ":3: unterminated quoted field"},
      {"10,\"a\"b,1\n", ":3: unexpected text after a quoted field"},
      {"10,a\"b,1\n", ":3: quote inside an unquoted field"},
      // The quoted line break puts the next row on line 5.
      {"10,\"x\ny\",1\n10,loss/train,?\n", ":5: bad value '?'"},
  };
  for (const auto& c : cases) {
    write_file(file, "step,tag,value\n1,loss/train,1\n" + c.rows);
    EXPECT_EQ(thrown_error_of([&] { read_metrics(file); }), file + c.error) << c.rows;
  }
}

TEST_F(MetricsTest, AFileWithoutTheHeaderIsAnError) {
  const std::string file = path("metrics.csv");
  for (const std::string text : {"", "step,value\n", "10,loss/train,1\n", "step,tag,value,x\n"}) {
    write_file(file, text);
    EXPECT_EQ(thrown_error_of([&] { read_metrics(file); }),
              file + ":1: the first line is not the header step,tag,value")
        << text;
  }
  EXPECT_EQ(thrown_error_of([&] { read_metrics(path("absent.csv")); }),
            "cannot open " + path("absent.csv") + ": No such file or directory");
}

TEST_F(MetricsTest, LoadRunMeasuresStepsInEpochsOfTheFirstTestRow) {
  const std::string dir = write_run("run", run_csv(70, 3));
  const RunCurves run = load_run(dir, "dense");
  EXPECT_EQ(run.label, "dense");
  ASSERT_EQ(run.loss.size(), 30u);
  EXPECT_DOUBLE_EQ(run.loss.front().x, 0.1);
  EXPECT_DOUBLE_EQ(run.loss.back().x, 3);
  ASSERT_EQ(run.top1.size(), 3u);
  for (int e = 0; e < 3; ++e) {
    EXPECT_DOUBLE_EQ(run.top1[e].x, e + 1);
    EXPECT_DOUBLE_EQ(run.top1[e].y, 70 + 2 * e);
  }
}

TEST_F(MetricsTest, LoadRunErrorsNameTheRunOrItsFile) {
  const std::string missing = path("missing");
  EXPECT_EQ(thrown_error_of([&] { load_run(missing, "x"); }),
            "run directory " + missing + " does not exist");
  write_file(path("file"), "");
  EXPECT_EQ(thrown_error_of([&] { load_run(path("file"), "x"); }),
            "run directory " + path("file") + " is not a directory");
  std::filesystem::create_directories(path("empty"));
  EXPECT_EQ(thrown_error_of([&] { load_run(path("empty"), "x"); }),
            "cannot open " + path("empty") + "/metrics.csv: No such file or directory");

  const std::string no_loss = write_run("no_loss", "step,tag,value\n1000,acc/test_top1,50\n");
  EXPECT_EQ(thrown_error_of([&] { load_run(no_loss, "x"); }),
            no_loss + "/metrics.csv: no loss/train rows");
  const std::string no_top1 = write_run("no_top1", "step,tag,value\n100,loss/train,2\n");
  EXPECT_EQ(thrown_error_of([&] { load_run(no_top1, "x"); }),
            no_top1 + "/metrics.csv: no acc/test_top1 rows");
  const std::string at_zero =
      write_run("at_zero", "step,tag,value\n0,acc/test_top1,10\n100,loss/train,2\n");
  EXPECT_EQ(thrown_error_of([&] { load_run(at_zero, "x"); }),
            at_zero +
                "/metrics.csv: the first acc/test_top1 row is at step 0, so an epoch's length is "
                "unknown");
}

TEST(RunLabel, IsTheDirectorysLastComponent) {
  EXPECT_EQ(run_label("runs/acceptance/[fmnist.convnet+dgc.wm2].e8.np4"),
            "[fmnist.convnet+dgc.wm2].e8.np4");
  EXPECT_EQ(run_label("runs/a.e8//"), "a.e8");
  EXPECT_EQ(run_label("dense"), "dense");
}

// ---------------------------------------------------------------------------------------------
// Axes

TEST(NiceAxis, TicksAreRoundStepsInsideTheRangeThatCoverTheData) {
  const std::pair<double, double> ranges[] = {{0.3, 2.3}, {82.3, 91.7},    {0, 8},
                                              {5, 5},     {-1e-3, 2e-3},   {0, 1e6},
                                              {-40, -39}, {1e12, 1e12 + 7}};
  for (const auto& [lo, hi] : ranges) {
    const Axis axis = nice_axis(lo, hi, 6);
    SCOPED_TRACE(std::to_string(lo) + ".." + std::to_string(hi));
    EXPECT_LT(axis.lo, lo);
    EXPECT_GT(axis.hi, hi);
    ASSERT_GE(axis.ticks.size(), 3u);
    EXPECT_LE(axis.ticks.size(), 11u);
    const double step = axis.ticks[1] - axis.ticks[0];
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    EXPECT_TRUE(std::abs(mantissa - 1) < 1e-6 || std::abs(mantissa - 2) < 1e-6 ||
                std::abs(mantissa - 5) < 1e-6)
        << step;
    for (std::size_t i = 0; i < axis.ticks.size(); ++i) {
      EXPECT_GE(axis.ticks[i], axis.lo);
      EXPECT_LE(axis.ticks[i], axis.hi);
      if (i == 0) continue;
      EXPECT_NEAR(axis.ticks[i] - axis.ticks[i - 1], step, step * 1e-6);
      // Labels of neighbouring ticks differ: the decimals suffice for the step.
      EXPECT_NE(tick_label(axis, axis.ticks[i]), tick_label(axis, axis.ticks[i - 1]));
    }
  }
}

TEST(NiceAxis, LabelsAreShortAndNeverNegativeZero) {
  const Axis loss = nice_axis(0.3, 2.3, 6);
  EXPECT_EQ(loss.decimals, 1);
  EXPECT_EQ(tick_label(loss, 0.5), "0.5");
  EXPECT_EQ(tick_label(loss, 2), "2.0");
  EXPECT_EQ(tick_label(loss, -1e-17), "0.0");
  const Axis top1 = nice_axis(82, 92, 6);
  EXPECT_EQ(top1.decimals, 0);
  EXPECT_EQ(tick_label(top1, 84), "84");
}

TEST(NiceAxis, NoFiniteDataGivesTheUnitRange) {
  const double inf = std::numeric_limits<double>::infinity();
  const Axis axis = nice_axis(inf, -inf, 6);
  EXPECT_LT(axis.lo, 0);
  EXPECT_GT(axis.hi, 1);
  EXPECT_FALSE(axis.ticks.empty());
}

// ---------------------------------------------------------------------------------------------
// Canvas and font

// The pixels of `canvas` that are not white, as a bounding rectangle (empty when none).
Rect ink_box(const Canvas& canvas) {
  Rect box{canvas.width(), canvas.height(), 0, 0};
  for (int y = 0; y < canvas.height(); ++y) {
    for (int x = 0; x < canvas.width(); ++x) {
      if (canvas.at(x, y) == kWhite) continue;
      box = {std::min(box.left, x), std::min(box.top, y), std::max(box.right, x + 1),
             std::max(box.bottom, y + 1)};
    }
  }
  return box;
}

TEST(Canvas, DrawingNeverLeavesTheClip) {
  Canvas canvas(50, 40, kWhite);
  const Color red{200, 0, 0};
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  canvas.set_clip({10, 10, 30, 30});
  canvas.line(-1e6, 20, 1e6, 20, red, 3);    // crosses the whole clip
  canvas.line(-1e300, 0, 1e300, 0, red, 3);  // cannot be placed exactly; must not spill
  canvas.line(nan, 0, 10, 10, red, 3);
  canvas.line(0, 0, inf, inf, red, 3);
  canvas.line(1e9, -1e9, 2e9, -2e9, red, 1e6);
  canvas.disc(-1e12, 5, 4, red);
  canvas.blend(-1, -1, red);
  canvas.blend(50, 40, red);
  canvas.blend(12, 12, red, nan);
  const Rect box = ink_box(canvas);
  EXPECT_EQ(box.left, 10);
  EXPECT_EQ(box.right, 30);
  EXPECT_EQ(box.top, 19);  // thickness 3: rows 19 to 21 covered fully, 18 and 22 not at all
  EXPECT_EQ(box.bottom, 22);
  for (int x = 10; x < 30; ++x) EXPECT_EQ(canvas.at(x, 20), red) << x;

  canvas.fill_rect({-100, -100, 1000, 1000}, red);
  EXPECT_EQ(canvas.at(10, 10), red);
  EXPECT_EQ(canvas.at(29, 29), red);
  EXPECT_EQ(canvas.at(9, 9), kWhite);
  EXPECT_EQ(canvas.at(30, 30), kWhite);

  canvas.set_clip({-100, -100, 1000, 1000});  // clamped to the canvas
  canvas.fill_rect({-100, -100, 1000, 1000}, red);
  EXPECT_EQ(canvas.at(0, 0), red);
  EXPECT_EQ(canvas.at(49, 39), red);
  EXPECT_EQ(thrown_error_of([&] { canvas.at(50, 0); }),
            "pixel (50, 0) is outside the 50x40 canvas");
}

TEST(Canvas, LinesAndDiscsHaveExactCentresAndBlendedEdges) {
  Canvas canvas(40, 40, kWhite);
  const Color blue{0, 0, 200};
  canvas.line(5, 5, 35, 35, blue, 3);
  canvas.disc(30, 10, 3, blue);
  EXPECT_EQ(canvas.at(20, 20), blue);
  EXPECT_EQ(canvas.at(30, 10), blue);
  EXPECT_EQ(canvas.at(35, 5), kWhite);  // far from both
  // The edge of the disc is a blend: neither white nor blue.
  const Color edge = canvas.at(30, 13);
  EXPECT_NE(edge, kWhite);
  EXPECT_NE(edge, blue);
  EXPECT_EQ(mix({0, 100, 200}, kWhite, 0.5), (Color{128, 178, 228}));
}

TEST(Font, TextStaysInItsBoxAndRotates) {
  Canvas canvas(200, 100, kWhite);
  const std::string text = "Top-1 (%) gjy";
  EXPECT_EQ(text_width(text, 2), (6 * 13 - 1) * 2);
  EXPECT_EQ(text_width("", 2), 0);
  draw_text(canvas, 10, 20, text, {0, 0, 0}, 2);
  Rect box = ink_box(canvas);
  EXPECT_EQ(box.left, 10);
  EXPECT_LE(box.right, 10 + text_width(text, 2));
  EXPECT_GE(box.right, 10 + text_width(text, 2) - 2 * 2);
  EXPECT_EQ(box.top, 20);
  EXPECT_EQ(box.bottom, 20 + text_height(2));  // the descenders reach the last row

  Canvas rotated(100, 200, kWhite);
  draw_text(rotated, 20, 190, text, {0, 0, 0}, 2, Direction::kUp);
  box = ink_box(rotated);
  EXPECT_EQ(box.left, 20);
  EXPECT_EQ(box.right, 20 + text_height(2));
  EXPECT_EQ(box.bottom, 190);
  EXPECT_GE(box.top, 190 - text_width(text, 2));

  Canvas unknown(20, 20, kWhite), question(20, 20, kWhite);
  draw_text(unknown, 0, 0, "\xC3", {0, 0, 0}, 1);  // bytes outside ASCII draw as '?'
  draw_text(question, 0, 0, "?", {0, 0, 0}, 1);
  EXPECT_EQ(unknown.rgb(), question.rgb());
}

// ---------------------------------------------------------------------------------------------
// PNG: an independent minimal decoder for what the encoder promises (8-bit RGB, no interlace).

std::uint32_t be32(const std::string& bytes, std::size_t at) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = value << 8 | static_cast<std::uint8_t>(bytes.at(at + i));
  return value;
}

// Checks the signature, each chunk's CRC, IHDR's fields, the IDAT stream and every row's filter
// byte (the encoder writes filter 0), and returns the pixels; throws on anything wrong.
Canvas decode_png(const std::string& png) {
  const std::string signature = "\x89PNG\r\n\x1a\n";
  if (png.compare(0, 8, signature) != 0) throw std::runtime_error("bad PNG signature");
  std::string header, idat;
  bool ended = false;
  for (std::size_t at = 8; !ended;) {
    const std::uint32_t length = be32(png, at);
    const std::string type = png.substr(at + 4, 4);
    if (at + 12 + length > png.size()) throw std::runtime_error(type + " overruns the file");
    const auto* typed = reinterpret_cast<const Bytef*>(png.data() + at + 4);
    if (crc32(0, typed, 4 + length) != be32(png, at + 8 + length)) {
      throw std::runtime_error("bad CRC in " + type);
    }
    const std::string data = png.substr(at + 8, length);
    if (at == 8 && type != "IHDR") throw std::runtime_error("IHDR is not the first chunk");
    if (type == "IHDR") header = data;
    if (type == "IDAT") idat += data;
    ended = type == "IEND";
    at += 12 + length;
    if (ended && at != png.size()) throw std::runtime_error("bytes after IEND");
  }
  if (header.size() != 13) throw std::runtime_error("IHDR is not 13 bytes");
  const std::uint32_t width = be32(header, 0), height = be32(header, 4);
  if (header.substr(8) != std::string("\x08\x02\x00\x00\x00", 5)) {
    throw std::runtime_error("not 8-bit RGB, deflate, no interlace");
  }
  const std::size_t row_bytes = 1 + 3 * static_cast<std::size_t>(width);
  std::vector<Bytef> raw(row_bytes * height + 1);  // one spare byte: too much data is an error
  uLongf raw_size = raw.size();
  if (uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) !=
          Z_OK ||
      raw_size != row_bytes * height) {
    throw std::runtime_error("IDAT does not inflate to the image size");
  }
  Canvas canvas(static_cast<int>(width), static_cast<int>(height), kWhite);
  for (std::uint32_t y = 0; y < height; ++y) {
    const Bytef* row = raw.data() + y * row_bytes;
    if (row[0] != 0)
      throw std::runtime_error("row " + std::to_string(y) + " has filter " +
                               std::to_string(row[0]));
    for (std::uint32_t x = 0; x < width; ++x) {
      canvas.blend(x, y, {row[1 + 3 * x], row[2 + 3 * x], row[3 + 3 * x]});
    }
  }
  return canvas;
}

TEST(Png, RoundTripsThroughAnIndependentDecoder) {
  Canvas canvas(7, 3, kWhite);
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 7; ++x) {
      canvas.blend(x, y,
                   {static_cast<std::uint8_t>(x * 36), static_cast<std::uint8_t>(y * 120),
                    static_cast<std::uint8_t>(255 - x * y)});
    }
  }
  const std::vector<std::uint8_t> bytes = encode_png(canvas);
  const Canvas decoded = decode_png(std::string(bytes.begin(), bytes.end()));
  EXPECT_EQ(decoded.width(), 7);
  EXPECT_EQ(decoded.height(), 3);
  EXPECT_EQ(decoded.rgb(), canvas.rgb());

  std::string corrupt(bytes.begin(), bytes.end());
  corrupt[40] ^= 1;  // inside IDAT: its CRC no longer matches
  EXPECT_THROW(decode_png(corrupt), std::runtime_error);
}

TEST_F(PlotTest, WritePngReplacesTheFileWholeOrNotAtAll) {
  const Canvas canvas(4, 4, {1, 2, 3});
  const std::string out = path("out.png");
  write_png(out, canvas);
  EXPECT_EQ(decode_png(read_file(out)).rgb(), canvas.rgb());
  EXPECT_EQ(temporary_files(), 0);

  const std::string nowhere = path("no/such/dir/out.png");
  EXPECT_EQ(thrown_error_of([&] { write_png(nowhere, canvas); }),
            "cannot write " + nowhere + ": cannot create a temporary file in " +
                path("no/such/dir") + ": No such file or directory");
  // A directory at the target: the rename fails, and the temporary file goes again.
  std::filesystem::create_directories(path("dir.png/inside"));
  const std::string error = thrown_error_of([&] { write_png(path("dir.png"), canvas); });
  const std::string start = "cannot write " + path("dir.png") + ": cannot rename ";
  EXPECT_EQ(error.substr(0, start.size()), start) << error;
  EXPECT_NE(error.find(": Is a directory"), std::string::npos) << error;
  EXPECT_EQ(temporary_files(), 0);
  EXPECT_TRUE(std::filesystem::exists(path("dir.png/inside")));
}

// ---------------------------------------------------------------------------------------------
// The figure

// The topmost row holding exactly `color` in column x of `area`, or -1.
int topmost(const Canvas& canvas, const Rect& area, int x, Color color) {
  for (int y = area.top; y < area.bottom; ++y) {
    if (canvas.at(x, y) == color) return y;
  }
  return -1;
}

int count_of(const Canvas& canvas, const Rect& area, Color color) {
  int count = 0;
  for (int y = area.top; y < area.bottom; ++y) {
    for (int x = area.left; x < area.right; ++x) count += canvas.at(x, y) == color;
  }
  return count;
}

class FigureTest : public PlotTest {
 protected:
  // RunCurves 0 (dense) reaches 70..84% top-1, run 1 (dgc) 80..94%, over 8 epochs.
  std::vector<RunCurves> two_runs() {
    return {load_run(write_run("dense", run_csv(70, 8)), "dense"),
            load_run(write_run("dgc", run_csv(80, 8)), "dgc")};
  }
};

TEST_F(FigureTest, EachRunIsDrawnInItsColourAndHigherAccuracyIsHigherUp) {
  const Figure figure = draw_figure(two_runs(), {});
  const Canvas& canvas = figure.canvas;
  ASSERT_EQ(canvas.width(), 1200);
  ASSERT_EQ(canvas.height(), 500);
  const Rect& loss = figure.loss_area;
  const Rect& top1 = figure.top1_area;
  EXPECT_GT(loss.width(), 300);
  EXPECT_GT(loss.height(), 250);
  EXPECT_LT(loss.right, top1.left);
  EXPECT_EQ(loss.top, top1.top);
  EXPECT_EQ(loss.bottom, top1.bottom);

  const Color dense = run_color(0), dgc = run_color(1);
  EXPECT_NE(dense, dgc);
  for (const Rect& area : {loss, top1}) {
    EXPECT_GT(count_of(canvas, area, dense), 50);
    EXPECT_GT(count_of(canvas, area, dgc), 50);
  }
  int columns = 0;
  for (int x = top1.left; x < top1.right; ++x) {
    const int dense_top = topmost(canvas, top1, x, dense), dgc_top = topmost(canvas, top1, x, dgc);
    if (dense_top < 0 || dgc_top < 0) continue;
    ++columns;
    EXPECT_LT(dgc_top, dense_top) << "column " << x;
  }
  EXPECT_GT(columns, top1.width() / 2);

  // The legend under the panels shows both colours.
  const Rect legend{0, top1.bottom + 1, canvas.width(), canvas.height()};
  EXPECT_GT(count_of(canvas, legend, dense), 10);
  EXPECT_GT(count_of(canvas, legend, dgc), 10);
}

TEST_F(FigureTest, TheBackgroundIsWhiteWhereNothingIsDrawn) {
  const Figure plain = draw_figure(two_runs(), {});
  const Canvas& canvas = plain.canvas;
  const Rect margins[] = {{0, 0, canvas.width(), 10},  // above the panel titles, no title
                          {0, 0, 10, canvas.height()},
                          {canvas.width() - 10, 0, canvas.width(), canvas.height()},
                          {0, canvas.height() - 10, canvas.width(), canvas.height()}};
  for (const Rect& margin : margins) {
    EXPECT_EQ(count_of(canvas, margin, kWhite), margin.width() * margin.height());
  }
  const Rect all{0, 0, canvas.width(), canvas.height()};
  EXPECT_GT(count_of(canvas, all, kWhite), canvas.width() * canvas.height() * 8 / 10);

  // A title moves the panels down and puts ink in the top rows.
  const Figure titled = draw_figure(two_runs(), {"Fashion-MNIST, 4 ranks", 1200, 500});
  EXPECT_GT(titled.top1_area.top, plain.top1_area.top);
  const Rect top_band{0, 0, canvas.width(), plain.top1_area.top / 2};
  EXPECT_LT(count_of(titled.canvas, top_band, kWhite), top_band.width() * top_band.height());
}

TEST_F(FigureTest, AnySizeInRangeAndAnyDataDrawWithoutError) {
  std::vector<RunCurves> runs = two_runs();
  for (int i = 0; i < 10; ++i) {
    RunCurves run = runs[0];
    run.label = "[fmnist.resnet20+dgc.wm2].e10.np4 #" + std::to_string(i);
    run.loss[3].y = std::nan("");  // a diverged step leaves a gap
    run.top1 = {run.top1.front()};
    runs.push_back(run);
  }
  for (const auto& [width, height] : {std::pair{200, 200}, {8000, 200}, {200, 1000}}) {
    const Figure figure =
        draw_figure(runs, {"a title far too long for a small figure", width, height});
    EXPECT_EQ(figure.canvas.width(), width);
  }
  EXPECT_EQ(thrown_error_of([&] {
              draw_figure(runs, {"", 199, 500});
            }),
            "figure size 199x500 is outside 200..8000 pixels per side");
  EXPECT_EQ(thrown_error_of([&] { draw_figure({}, {}); }), "no runs to plot");
}

// ---------------------------------------------------------------------------------------------
// The dgc-plot binary

struct Result {
  int exit_code;
  std::string out, err;
};

std::string quoted(const std::string& arg) {
  std::string text = "'";
  for (char c : arg) text += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return text + "'";
}

class BinaryTest : public FigureTest {
 protected:
  Result plot(const std::vector<std::string>& args) {
    std::string command = quoted(DGC_PLOT_BIN);
    for (const std::string& arg : args) command += " " + quoted(arg);
    command += " > " + quoted(path("stdout")) + " 2> " + quoted(path("stderr"));
    const int status = std::system(command.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(path("stdout")),
            read_file(path("stderr"))};
  }
};

TEST_F(BinaryTest, WritesTheFigureOfTheLibraryAndASummaryPerRun) {
  const std::string dense = write_run("[fmnist.convnet].e8.np4", run_csv(70, 8));
  const std::string dgc = write_run("[fmnist.convnet+dgc.wm2].e8.np4", run_csv(80, 8));
  const std::string out = path("curves.png");
  const Result result = plot({"--out", out, dense, dgc + "/", "--title", "DGC"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(result.out, "[fmnist.convnet].e8.np4: top-1 final 84.00%, best 84.00% -> " + out +
                            "\n[fmnist.convnet+dgc.wm2].e8.np4: top-1 final 94.00%, best 94.00% "
                            "-> " +
                            out + "\n");
  EXPECT_EQ(temporary_files(), 0);

  const Figure expected = draw_figure({load_run(dense, "[fmnist.convnet].e8.np4"),
                                       load_run(dgc, "[fmnist.convnet+dgc.wm2].e8.np4")},
                                      {"DGC", 1200, 500});
  const Canvas written = decode_png(read_file(out));
  EXPECT_EQ(written.width(), 1200);
  EXPECT_EQ(written.height(), 500);
  EXPECT_TRUE(written.rgb() == expected.canvas.rgb());
}

TEST_F(BinaryTest, LabelsAndSizeFromTheCommandLine) {
  const std::string a = write_run("a", run_csv(70, 2)), b = write_run("b", run_csv(60, 2));
  const std::string out = path("small.png");
  const Result result = plot({"--label", "dense", "--width", "640", "--label", "dgc", a, b,
                              "--height", "300", "--out", out});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "dense: top-1 final 72.00%, best 72.00% -> " + out +
                            "\ndgc: top-1 final 62.00%, best 62.00% -> " + out + "\n");
  const Canvas written = decode_png(read_file(out));
  EXPECT_EQ(written.width(), 640);
  EXPECT_EQ(written.height(), 300);
  EXPECT_EQ(plot({"--help"}).exit_code, 0);
}

TEST_F(BinaryTest, EachErrorIsOneMessageAndLeavesTheOutputAlone) {
  const std::string good = write_run("good", run_csv(70, 2));
  const std::string bad_row = write_run("bad_row", "step,tag,value\n100,loss/train,2\n200,lr,x\n");
  const std::string bad_header = write_run("bad_header", "tag,value\n");
  const std::string no_loss = write_run("no_loss", "step,tag,value\n1000,acc/test_top1,50\n");
  const std::string no_top1 = write_run("no_top1", "step,tag,value\n100,loss/train,2\n");
  std::filesystem::create_directories(path("no_csv"));
  const std::string out = path("out.png");
  const std::string nowhere = path("missing/out.png");
  const struct {
    std::vector<std::string> args;
    int exit_code;
    std::string error;
  } cases[] = {
      {{"--out", out, good, path("absent")},
       1,
       "run directory " + path("absent") + " does not exist"},
      {{"--out", out, path("no_csv")},
       1,
       "cannot open " + path("no_csv") + "/metrics.csv: No such file or directory"},
      {{"--out", out, bad_header},
       1,
       bad_header + "/metrics.csv:1: the first line is not the header step,tag,value"},
      {{"--out", out, good, bad_row}, 1, bad_row + "/metrics.csv:3: bad value 'x'"},
      {{"--out", out, no_loss}, 1, no_loss + "/metrics.csv: no loss/train rows"},
      {{"--out", out, no_top1}, 1, no_top1 + "/metrics.csv: no acc/test_top1 rows"},
      {{"--out", nowhere, good},
       1,
       "cannot write " + nowhere + ": cannot create a temporary file in " +
           std::filesystem::path(nowhere).parent_path().string() + ": No such file or directory"},
      {{"--out", out, good, "--colour", "red"}, 2, "unknown option --colour"},
      {{good}, 2, "missing --out PNG"},
      {{"--out", out}, 2, "no run directory given"},
      {{"--out", out, good, good, "--label", "x"},
       2,
       "--label given 1 times for 2 run directories"},
      {{"--out", out, good, "--width", "199"}, 2, "--width 199 is outside 200..8000"},
      {{"--out", out, good, "--height", "8001"}, 2, "--height 8001 is outside 200..8000"},
      {{"--out", out, good, "--width", "12px"},
       2,
       "--width needs a whole number of pixels, got '12px'"},
      {{"--out", out, good, "--title"}, 2, "--title needs a value"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.error);
    const Result result = plot(c.args);
    EXPECT_EQ(result.exit_code, c.exit_code);
    EXPECT_EQ(result.err.substr(0, result.err.find('\n')), "dgc-plot: " + c.error);
    EXPECT_EQ(result.out, "");
    EXPECT_FALSE(std::filesystem::exists(out));
    EXPECT_EQ(temporary_files(), 0);
  }

  // What is at --out survives a failed run, whether the inputs or the write fail.
  write_file(out, "earlier figure");
  EXPECT_EQ(plot({"--out", out, good, bad_row}).exit_code, 1);
  EXPECT_EQ(read_file(out), "earlier figure");
  const std::string blocked_out = path("blocked.png");
  write_file(blocked_out + "/inside", "kept");
  const Result blocked = plot({"--out", blocked_out, good});
  EXPECT_EQ(blocked.exit_code, 1);
  EXPECT_NE(blocked.err.find("dgc-plot: cannot write " + blocked_out + ": cannot rename "),
            std::string::npos)
      << blocked.err;
  EXPECT_EQ(read_file(blocked_out + "/inside"), "kept");
  EXPECT_EQ(temporary_files(), 0);
}

}  // namespace
}  // namespace dgc::plot
