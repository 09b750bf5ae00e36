// Internals of load_config: YAML 1.2 core-schema kinds of nodes, and the deep merge that checks
// every incoming key and type against the schema (configs/default.yaml). See config.h.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

namespace dgc::train::detail {

enum class Kind { kNull, kBool, kInt, kFloat, kString, kList, kMap };

// A quoted scalar is a string; a plain one is classified by YAML 1.2's core schema.
Kind kind_of(const YAML::Node& node);
const char* kind_name(Kind kind);  // "an integer", "a map", ... for messages

// Merges `incoming` (a map, or null for an empty file) into `target` (a map): maps merge key by
// key, anything else replaces a deep copy of it. Every key of `incoming` must exist in `schema`
// with a compatible kind, except below a key whose schema value is null. `source` names where
// `incoming` came from ("configs/x.yaml" or "the command line (k=v)"); line numbers are added
// for files. Throws dgc::Error.
void merge_checked(YAML::Node target, const YAML::Node& incoming, const YAML::Node& schema,
                   const std::string& source, bool from_file);

}  // namespace dgc::train::detail
