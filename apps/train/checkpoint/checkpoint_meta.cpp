#include "checkpoint/checkpoint_meta.h"

#include <yaml-cpp/yaml.h>

#include <cmath>

#include "dgc/error.h"

namespace dgc::train {

std::string describe(const Position& p) {
  return "epoch " + std::to_string(p.epoch + 1) +
         (p.step > 0 ? " after step " + std::to_string(p.step) : " (start)");
}

std::string to_text(const CheckpointMeta& m) {
  YAML::Emitter out;
  out.SetDoublePrecision(17);  // best reads back bit for bit
  out << YAML::BeginMap;
  out << YAML::Key << "next_epoch" << YAML::Value << m.position.epoch;
  out << YAML::Key << "next_step" << YAML::Value << m.position.step;
  out << YAML::Key << "inputs_seen" << YAML::Value << m.inputs_seen;
  out << YAML::Key << "best" << YAML::Value << m.best;
  out << YAML::Key << "world_size" << YAML::Value << m.world_size;
  out << YAML::Key << "rank" << YAML::Value << m.rank;
  out << YAML::Key << "config" << YAML::Value << YAML::Literal << m.config_yaml;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

CheckpointMeta parse_meta(const std::string& text, const std::string& file) {
  CheckpointMeta m;
  try {
    const YAML::Node node = YAML::Load(text);
    m.position = {node["next_epoch"].as<std::int64_t>(), node["next_step"].as<std::int64_t>()};
    m.inputs_seen = node["inputs_seen"].as<std::int64_t>();
    m.best = node["best"].as<double>();
    m.world_size = node["world_size"].as<int>();
    m.rank = node["rank"].as<int>();
    m.config_yaml = node["config"].as<std::string>();
  } catch (const YAML::Exception& e) {
    DGC_FAIL("checkpoint ", file, " has unreadable metadata: ", e.what());
  }
  DGC_CHECK(m.position.epoch >= 0 && m.position.step >= 0 && m.inputs_seen >= 0 &&
                std::isfinite(m.best) && m.world_size >= 1 && m.rank >= 0 && m.rank < m.world_size,
            "checkpoint ", file, " has impossible metadata (epoch ", m.position.epoch, ", step ",
            m.position.step, ", rank ", m.rank, " of ", m.world_size, ")");
  return m;
}

}  // namespace dgc::train
