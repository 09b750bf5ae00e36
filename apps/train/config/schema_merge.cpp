#include "config/schema_merge.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "dgc/error.h"

namespace dgc::train::detail {
namespace {

bool is_int_text(const std::string& s) {
  std::size_t i = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  if (i == s.size()) return false;
  return std::all_of(s.begin() + i, s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE] [-+]? [0-9]+ )?  and  [-+]?.inf, .nan
bool is_float_text(const std::string& s) {
  static const char* const kSpecial[] = {".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf", "+.INF",
                                         "-.inf", "-.Inf", "-.INF", ".nan",  ".NaN",  ".NAN"};
  for (const char* special : kSpecial) {
    if (s == special) return true;
  }
  std::size_t i = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  std::size_t digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    std::size_t exp_digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

std::string join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

std::string location(const std::string& source, bool from_file, const YAML::Mark& mark) {
  if (!from_file || mark.is_null()) return source;
  return source + ":" + std::to_string(mark.line + 1);
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

void collect_keys(const YAML::Node& node, const std::string& prefix,
                  std::vector<std::string>& out) {
  if (!node.IsMap()) return;
  for (const auto& item : node) {
    const std::string key = join(prefix, item.first.Scalar());
    out.push_back(key);
    collect_keys(item.second, key, out);
  }
}

std::string last_segment(const std::string& key) {
  const std::size_t dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

// A sibling with a small typo first ("lrr" -> "lr"), else a key of the same name elsewhere
// ("train.compress_ratio" -> "train.compression.compress_ratio").
std::string suggestion(const YAML::Node& siblings, const std::string& prefix,
                       const std::string& name, const YAML::Node& schema_root) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(1, name.size() / 3) + 1;
  for (const auto& item : siblings) {
    const std::size_t d = edit_distance(name, item.first.Scalar());
    if (d < best_distance) best_distance = d, best = join(prefix, item.first.Scalar());
  }
  if (!best.empty()) return best;
  std::vector<std::string> keys;
  collect_keys(schema_root, "", keys);
  for (const std::string& key : keys) {
    if (last_segment(key) == name) return key;
  }
  return "";
}

std::string describe(const YAML::Node& node) {
  const Kind kind = kind_of(node);
  std::string text = kind_name(kind);
  if (node.IsScalar()) text += " ('" + node.Scalar() + "')";
  return text;
}

bool compatible(Kind expected, Kind found) {
  return expected == found || (expected == Kind::kFloat && found == Kind::kInt);
}

struct Merger {
  const YAML::Node& schema_root;
  const std::string& source;
  bool from_file;

  void check_value(const std::string& key, const YAML::Node& value, const YAML::Node& schema,
                   const YAML::Mark& mark) const {
    const Kind expected = kind_of(schema);
    const Kind found = kind_of(value);
    DGC_CHECK(compatible(expected, found), "config: wrong type for '", key, "' in ",
              location(source, from_file, mark), ": expected ", kind_name(expected), ", found ",
              describe(value));
    // Lists: elements are checked against the default's first element, when it is a scalar.
    if (expected == Kind::kList && schema.size() > 0 && !schema[0].IsMap() &&
        !schema[0].IsSequence()) {
      const Kind element = kind_of(schema[0]);
      for (std::size_t i = 0; i < value.size(); ++i) {
        DGC_CHECK(compatible(element, kind_of(value[i])), "config: wrong type for '", key, "[", i,
                  "]' in ", location(source, from_file, mark), ": expected ", kind_name(element),
                  ", found ", describe(value[i]));
      }
    }
  }

  // `schema` undefined: below a null default, nothing is checked.
  void merge(YAML::Node target, const YAML::Node& incoming, const YAML::Node& schema,
             const std::string& prefix) const {
    for (const auto& item : incoming) {
      const YAML::Mark mark = item.first.Mark();
      DGC_CHECK(item.first.IsScalar(), "config: a key under '", prefix, "' in ",
                location(source, from_file, mark), " is not a plain name");
      const std::string name = item.first.Scalar();
      const std::string key = join(prefix, name);
      DGC_CHECK(!name.empty() && name.find('.') == std::string::npos, "config: bad key '", key,
                "' in ", location(source, from_file, mark), ": names must be non-empty, no dots");
      // Constructed, not assigned: assigning a missing key's node throws in yaml-cpp.
      const YAML::Node schema_child =
          schema.IsDefined() ? schema[name] : YAML::Node(YAML::NodeType::Undefined);
      if (schema.IsDefined()) {
        if (!schema_child.IsDefined()) {
          const std::string hint = suggestion(schema, prefix, name, schema_root);
          DGC_FAIL("config: unknown key '", key, "' in ", location(source, from_file, mark),
                   hint.empty() ? std::string(" (not in configs/default.yaml)")
                                : " (did you mean '" + hint + "'?)");
        }
        if (!schema_child.IsNull()) check_value(key, item.second, schema_child, mark);
      }
      const bool checked_below = schema_child.IsDefined() && !schema_child.IsNull();
      YAML::Node existing = target[name];
      if (existing.IsMap() && item.second.IsMap()) {
        merge(existing, item.second,
              checked_below ? schema_child : YAML::Node(YAML::NodeType::Undefined), key);
      } else {
        target[name] = YAML::Clone(item.second);
      }
    }
  }
};

}  // namespace

Kind kind_of(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return Kind::kNull;
  if (node.IsMap()) return Kind::kMap;
  if (node.IsSequence()) return Kind::kList;
  if (node.Tag() == "!") return Kind::kString;  // quoted: never a number or a bool
  const std::string& s = node.Scalar();
  if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE") {
    return Kind::kBool;
  }
  if (is_int_text(s)) return Kind::kInt;
  if (is_float_text(s)) return Kind::kFloat;
  return Kind::kString;
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "a bool";
    case Kind::kInt:
      return "an integer";
    case Kind::kFloat:
      return "a number";
    case Kind::kString:
      return "a string";
    case Kind::kList:
      return "a list";
    case Kind::kMap:
      return "a map";
  }
  return "?";
}

void merge_checked(YAML::Node target, const YAML::Node& incoming, const YAML::Node& schema,
                   const std::string& source, bool from_file) {
  if (incoming.IsNull()) return;  // an empty file (or one with only comments)
  DGC_CHECK(incoming.IsMap(), "config: ", source, " must be a map of settings at its top level, ",
            "found ", describe(incoming));
  Merger{schema, source, from_file}.merge(target, incoming, schema, "");
}

}  // namespace dgc::train::detail
