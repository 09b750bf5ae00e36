#include "resnet50_shapes.h"

namespace dgc::bench {

namespace {
void add_conv(std::vector<NamedShape>& out, const std::string& name, std::int64_t out_ch,
              std::int64_t in_ch, std::int64_t k) {
  out.push_back({name + ".weight", {out_ch, in_ch, k, k}});
}
void add_bn(std::vector<NamedShape>& out, const std::string& name, std::int64_t ch) {
  out.push_back({name + ".weight", {ch}});
  out.push_back({name + ".bias", {ch}});
}
}  // namespace

std::vector<NamedShape> resnet50_shapes() {
  std::vector<NamedShape> out;
  add_conv(out, "conv1", 64, 3, 7);
  add_bn(out, "bn1", 64);
  const std::int64_t blocks[] = {3, 4, 6, 3};
  std::int64_t in_ch = 64;
  for (int layer = 0; layer < 4; ++layer) {
    const std::int64_t planes = 64 << layer;
    for (std::int64_t b = 0; b < blocks[layer]; ++b) {
      const std::string prefix = "layer" + std::to_string(layer + 1) + "." + std::to_string(b);
      add_conv(out, prefix + ".conv1", planes, in_ch, 1);
      add_bn(out, prefix + ".bn1", planes);
      add_conv(out, prefix + ".conv2", planes, planes, 3);
      add_bn(out, prefix + ".bn2", planes);
      add_conv(out, prefix + ".conv3", planes * 4, planes, 1);
      add_bn(out, prefix + ".bn3", planes * 4);
      if (b == 0) {
        add_conv(out, prefix + ".downsample.0", planes * 4, in_ch, 1);
        add_bn(out, prefix + ".downsample.1", planes * 4);
      }
      in_ch = planes * 4;
    }
  }
  out.push_back({"fc.weight", {1000, 2048}});
  out.push_back({"fc.bias", {1000}});
  return out;
}

}  // namespace dgc::bench
