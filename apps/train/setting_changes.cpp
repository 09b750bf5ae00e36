#include "setting_changes.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace dgc::train {
namespace {

// Keys that change nothing the run computes: where it logs, how fast it loads or evaluates, when
// this invocation stops, where the data lie. "device" is in the checkpoints of older versions,
// whose schema had it (cpu only, read by nothing).
bool cannot_change_training(const std::string& key) {
  static const char* const kPrefixes[] = {"logging.", "data.", "distributed."};
  static const std::set<std::string> kKeys = {"train.stop_after_epochs", "evaluate.batch_size",
                                              "dataset.root", "device"};
  for (const char* prefix : kPrefixes) {
    if (key.rfind(prefix, 0) == 0) return true;
  }
  return kKeys.count(key) > 0;
}

void flatten(const YAML::Node& node, const std::string& prefix,
             std::map<std::string, std::string>& out) {
  if (node.IsMap() && node.size() > 0) {
    for (const auto& item : node) {
      const std::string key = item.first.Scalar();
      flatten(item.second, prefix.empty() ? key : prefix + "." + key, out);
    }
    return;
  }
  YAML::Emitter text;
  text << YAML::Flow << node;
  out[prefix] = text.c_str();
}

std::map<std::string, std::string> flattened(const YAML::Node& node) {
  std::map<std::string, std::string> out;
  flatten(node, "", out);
  return out;
}

}  // namespace

std::vector<SettingChange> changed_settings(const std::string& checkpoint_yaml,
                                            const Config& config, const std::string& schema_yaml) {
  const auto before = flattened(YAML::Load(checkpoint_yaml));
  const auto now = flattened(config.root());
  const auto schema = flattened(YAML::Load(schema_yaml));
  std::set<std::string> keys;
  for (const auto& [key, value] : before) keys.insert(key);
  for (const auto& [key, value] : now) keys.insert(key);
  std::vector<SettingChange> changed;
  for (const auto& key : keys) {
    const auto b = before.find(key), n = now.find(key);
    if (b == before.end() && n != now.end()) {
      const auto d = schema.find(key);
      if (d != schema.end() && d->second == n->second) continue;  // added since, at its default
    }
    const std::string old_value = b == before.end() ? "(absent)" : b->second;
    const std::string new_value = n == now.end() ? "(absent)" : n->second;
    if (old_value == new_value || cannot_change_training(key)) continue;
    changed.push_back({key, key + ": " + old_value + " -> " + new_value});
  }
  return changed;
}

std::string schema_of(const Config& config) {
  if (config.sources().empty()) return "";
  std::ifstream in(config.sources().front());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace dgc::train
