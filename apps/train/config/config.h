// dgc-train's configuration: YAML files merged in the seed's order, command-line overrides, and
// typed access by dotted key ("train.optimizer.lr").
//
// Load order (later wins): configs/default.yaml; then for each file given, the default.yaml of
// every folder between the configs root and the file (outermost first, each at most once per
// load) and the file itself; then the overrides. Merging is deep: maps merge key by key, scalars
// and lists replace. The configs root is the nearest enclosing directory named `configs` of the
// first file (with no files: ./configs); every file must lie under it.
//
// configs/default.yaml is the schema: a key missing from it, or a value whose type differs from
// its default, is one dgc::Error naming the dotted key, the file and line (or the command line),
// the expected and the found type, raised before anything else runs. An integer is accepted where
// the default is a float; a quoted scalar is always a string. A key whose default is null (~)
// accepts any value, maps included, and nothing below it is checked: its consumer validates it.
// Scalars follow YAML 1.2's core schema (true/false, ints, floats like 1e-4, .inf; "yes" is a
// string), not yaml-cpp's YAML 1.1 conversions.
//
// Config is a value (a deep copy of the merged tree); const methods are safe to call from
// several threads, since nothing is cached.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dgc::train {

class Config {
 public:
  Config() = default;
  // `sources` are the files merged into `root`, in order (for logs).
  Config(YAML::Node root, std::vector<std::string> sources);

  // Typed access; T is one of double, std::int64_t, bool, std::string, std::vector<double>,
  // std::vector<std::int64_t>, std::vector<std::string>. A missing key, a null or a value of
  // another type is a dgc::Error naming the key. get<std::string> takes any scalar as its text.
  template <typename T>
  T get(const std::string& key) const;

  bool has(const std::string& key) const;      // present, even if null
  bool is_null(const std::string& key) const;  // present and null; missing is a dgc::Error
  bool is_list(const std::string& key) const;  // present and a list; missing is a dgc::Error
  bool is_map(const std::string& key) const;   // present and a map; missing is a dgc::Error

  // The resolved configuration as YAML, for rank 0 to print and save in the run directory.
  std::string to_yaml() const;

  const std::vector<std::string>& sources() const { return sources_; }
  // The merged tree itself (a copy shares nodes: treat it as read-only).
  const YAML::Node& root() const { return root_; }

 private:
  YAML::Node find(const std::string& key) const;  // an undefined node when missing

  YAML::Node root_;
  std::vector<std::string> sources_;
};

template <>
double Config::get<double>(const std::string& key) const;
template <>
std::int64_t Config::get<std::int64_t>(const std::string& key) const;
template <>
bool Config::get<bool>(const std::string& key) const;
template <>
std::string Config::get<std::string>(const std::string& key) const;
template <>
std::vector<double> Config::get<std::vector<double>>(const std::string& key) const;
template <>
std::vector<std::int64_t> Config::get<std::vector<std::int64_t>>(const std::string& key) const;
template <>
std::vector<std::string> Config::get<std::vector<std::string>>(const std::string& key) const;

// Loads and merges `files` (see the top of this file), then applies `overrides`, each
// "dotted.key=value" with the value parsed as YAML ("500", "true", "[1, 2]", "~"). Errors
// (dgc::Error): a missing or unparsable file, a file outside the configs root, an unknown key,
// a wrong type, an override without '=' or with a bad key or value.
Config load_config(const std::vector<std::string>& files,
                   const std::vector<std::string>& overrides);

// The run directory's name from the config files, as the seed's get_save_path: each file's path
// below the configs root without extension is a path in a tree; a node with one child prints
// "name.child", with several "name.[a+b]". So cifar/resnet20, dgc/wm5, dgc/fp16, dgc/int32 give
// "[cifar.resnet20+dgc.[wm5+fp16+int32]]". Then `suffix`, then ".np{world_size}" when
// world_size > 0. No files gives "default". The caller prefixes logging.runs_dir.
std::string run_name(const std::vector<std::string>& files, const std::string& suffix = "",
                     int world_size = 0);

}  // namespace dgc::train
