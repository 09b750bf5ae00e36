#include "config/config.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>
#include <utility>

#include "config/schema_merge.h"
#include "dgc/error.h"

namespace dgc::train {
namespace fs = std::filesystem;
using detail::Kind;
using detail::kind_name;
using detail::kind_of;

namespace {

std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

bool valid_key(const std::string& key) {
  for (const std::string& part : split_key(key)) {
    if (part.empty()) return false;
    for (char c : part) {
      if (c == ' ' || c == '\t' || c == '=' || c == ':') return false;
    }
  }
  return true;
}

double to_double(const YAML::Node& node, const std::string& key) {
  const Kind kind = kind_of(node);
  DGC_CHECK(kind == Kind::kInt || kind == Kind::kFloat, "config: '", key,
            "' must be a number, found ", kind_name(kind),
            node.IsScalar() ? " ('" + node.Scalar() + "')" : std::string());
  const std::string& s = node.Scalar();
  // Only [-+]?.inf and .nan start with a dot and a letter (schema_merge.cpp's is_float_text);
  // "1.e5" has a letter after its dot too, and is 100000.
  const std::size_t dot = s[0] == '+' || s[0] == '-' ? 1 : 0;
  if (s.size() > dot + 1 && s[dot] == '.' && std::isalpha(static_cast<unsigned char>(s[dot + 1]))) {
    return s[dot + 1] == 'n' || s[dot + 1] == 'N' ? NAN : (s[0] == '-' ? -INFINITY : INFINITY);
  }
  return std::strtod(s.c_str(), nullptr);
}

std::int64_t to_int(const YAML::Node& node, const std::string& key) {
  const Kind kind = kind_of(node);
  DGC_CHECK(kind == Kind::kInt, "config: '", key, "' must be an integer, found ", kind_name(kind),
            node.IsScalar() ? " ('" + node.Scalar() + "')" : std::string());
  errno = 0;
  const long long value = std::strtoll(node.Scalar().c_str(), nullptr, 10);
  DGC_CHECK(errno != ERANGE, "config: '", key, "' = ", node.Scalar(), " is out of range");
  return value;
}

bool to_bool(const YAML::Node& node, const std::string& key) {
  const Kind kind = kind_of(node);
  DGC_CHECK(kind == Kind::kBool, "config: '", key, "' must be true or false, found ",
            kind_name(kind), node.IsScalar() ? " ('" + node.Scalar() + "')" : std::string());
  const char c = node.Scalar()[0];
  return c == 't' || c == 'T';
}

std::string to_string(const YAML::Node& node, const std::string& key) {
  DGC_CHECK(node.IsScalar(), "config: '", key, "' must be a string, found ",
            kind_name(kind_of(node)));
  return node.Scalar();
}

template <typename T, typename Convert>
std::vector<T> to_list(const YAML::Node& node, const std::string& key, Convert convert) {
  DGC_CHECK(node.IsSequence(), "config: '", key, "' must be a list, found ",
            kind_name(kind_of(node)),
            node.IsScalar() ? " ('" + node.Scalar() + "')" : std::string());
  std::vector<T> out;
  for (std::size_t i = 0; i < node.size(); ++i) {
    out.push_back(convert(node[i], key + "[" + std::to_string(i) + "]"));
  }
  return out;
}

YAML::Node load_file(const std::string& path) {
  std::error_code ec;
  DGC_CHECK(fs::is_regular_file(path, ec), "config: cannot read config file '", path,
            "': no such file");
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    DGC_FAIL("config: cannot parse '", path, "': ", e.what());
  }
}

// The nearest enclosing directory named `configs`, as written by the user when possible (so
// messages show "configs/cifar/default.yaml"), else absolute.
fs::path find_root(const std::string& file) {
  for (const fs::path& candidate : {fs::path(file).lexically_normal(), fs::absolute(file)}) {
    for (fs::path dir = candidate.parent_path(); !dir.empty(); dir = dir.parent_path()) {
      if (dir.filename() == "configs") return dir;
      if (dir == dir.parent_path()) break;
    }
  }
  DGC_FAIL("config: '", file, "' is not inside a directory named 'configs' (its root, which ",
           "holds default.yaml)");
}

// `file` relative to `root`, or empty when it lies outside.
fs::path relative_to(const fs::path& file, const fs::path& root) {
  const fs::path rel = fs::absolute(file).lexically_normal().lexically_relative(
      fs::absolute(root).lexically_normal());
  if (rel.empty() || *rel.begin() == "..") return {};
  return rel;
}

}  // namespace

Config::Config(YAML::Node root, std::vector<std::string> sources)
    : root_(std::move(root)), sources_(std::move(sources)) {}

YAML::Node Config::find(const std::string& key) const {
  YAML::Node node = root_;  // a handle: reset() below rebinds it without touching the tree
  for (const std::string& part : split_key(key)) {
    if (!node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& map = node;  // const operator[] never inserts the key
    const YAML::Node child = map[part];
    if (!child.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
    node.reset(child);
  }
  return node;
}

bool Config::has(const std::string& key) const { return find(key).IsDefined(); }

namespace {
YAML::Node required(const YAML::Node& node, const std::string& key) {
  DGC_CHECK(node.IsDefined(), "config: no key '", key, "'");
  return node;
}
}  // namespace

bool Config::is_null(const std::string& key) const { return required(find(key), key).IsNull(); }
bool Config::is_list(const std::string& key) const { return required(find(key), key).IsSequence(); }
bool Config::is_map(const std::string& key) const { return required(find(key), key).IsMap(); }

template <>
double Config::get<double>(const std::string& key) const {
  return to_double(required(find(key), key), key);
}
template <>
std::int64_t Config::get<std::int64_t>(const std::string& key) const {
  return to_int(required(find(key), key), key);
}
template <>
bool Config::get<bool>(const std::string& key) const {
  return to_bool(required(find(key), key), key);
}
template <>
std::string Config::get<std::string>(const std::string& key) const {
  return to_string(required(find(key), key), key);
}
template <>
std::vector<double> Config::get<std::vector<double>>(const std::string& key) const {
  return to_list<double>(required(find(key), key), key, to_double);
}
template <>
std::vector<std::int64_t> Config::get<std::vector<std::int64_t>>(const std::string& key) const {
  return to_list<std::int64_t>(required(find(key), key), key, to_int);
}
template <>
std::vector<std::string> Config::get<std::vector<std::string>>(const std::string& key) const {
  return to_list<std::string>(required(find(key), key), key, to_string);
}

std::string Config::to_yaml() const {
  YAML::Emitter out;
  out << root_;
  return std::string(out.c_str()) + "\n";
}

Config load_config(const std::vector<std::string>& files,
                   const std::vector<std::string>& overrides) {
  const fs::path root = files.empty() ? fs::path("configs") : find_root(files.front());
  const std::string default_path = (root / "default.yaml").string();
  const YAML::Node schema = load_file(default_path);
  DGC_CHECK(schema.IsMap(), "config: ", default_path, " must be a map of settings");
  YAML::Node merged = YAML::Clone(schema);
  std::vector<std::string> sources = {default_path};
  std::set<fs::path> loaded_defaults = {fs::absolute(default_path).lexically_normal()};

  auto merge_file = [&](const std::string& path) {
    detail::merge_checked(merged, load_file(path), schema, path, /*from_file=*/true);
    sources.push_back(path);
  };
  for (const std::string& file : files) {
    const fs::path rel = relative_to(file, root);
    DGC_CHECK(!rel.empty(), "config: '", file, "' is not under the configs root '", root.string(),
              "' of the first file");
    // The folder defaults, outermost first; the root's is already in.
    fs::path dir = root;
    for (auto it = rel.begin(); std::next(it) != rel.end(); ++it) {
      dir /= *it;
      const fs::path folder_default = dir / "default.yaml";
      const fs::path key = fs::absolute(folder_default).lexically_normal();
      if (!loaded_defaults.count(key) && fs::is_regular_file(folder_default)) {
        loaded_defaults.insert(key);
        merge_file(folder_default.string());
      }
    }
    const fs::path key = fs::absolute(file).lexically_normal();
    if (key.filename() == "default.yaml") {
      if (!loaded_defaults.insert(key).second) continue;  // already loaded as a folder default
    }
    merge_file(file);
  }

  for (const std::string& item : overrides) {
    const std::size_t eq = item.find('=');
    DGC_CHECK(eq != std::string::npos, "config: bad override '", item,
              "': expected key=value (or --configs.key value)");
    const std::string key = item.substr(0, eq);
    DGC_CHECK(!key.empty() && valid_key(key), "config: bad override '", item, "': '", key,
              "' is not a dotted key like train.num_epochs");
    YAML::Node value;
    try {
      value = YAML::Load(item.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      DGC_FAIL("config: bad override '", item, "': the value is not YAML: ", e.msg);
    }
    // {a: {b: {c: value}}}, then the same checked merge as for files.
    const std::vector<std::string> parts = split_key(key);
    YAML::Node nested = value;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      YAML::Node parent(YAML::NodeType::Map);
      parent[*it] = nested;
      nested = parent;
    }
    detail::merge_checked(merged, nested, schema, "the command line ('" + item + "')",
                          /*from_file=*/false);
  }
  return Config(merged, std::move(sources));
}

std::string run_name(const std::vector<std::string>& files, const std::string& suffix,
                     int world_size) {
  // An insertion-ordered trie of the files' paths below the configs root.
  struct Node {
    std::vector<std::pair<std::string, Node>> children;
    Node& child(const std::string& name) {
      for (auto& [n, c] : children) {
        if (n == name) return c;
      }
      children.emplace_back(name, Node{});
      return children.back().second;
    }
  };
  Node tree;
  for (const std::string& file : files) {
    fs::path rel;
    try {
      rel = relative_to(file, find_root(file));
    } catch (const Error&) {
    }
    if (rel.empty()) rel = fs::path(file).lexically_normal();
    rel.replace_extension();
    Node* node = &tree;
    for (const fs::path& part : rel) node = &node->child(part.string());
  }
  // As the seed's get_save_path: several children are bracketed and joined with '+'.
  std::function<std::string(const Node&)> print = [&](const Node& node) {
    std::string out;
    const bool several = node.children.size() > 1;
    if (several) out += "[";
    for (std::size_t i = 0; i < node.children.size(); ++i) {
      const auto& [name, child] = node.children[i];
      if (i > 0) out += "+";
      out += name;
      if (!child.children.empty()) out += "." + print(child);
    }
    if (several) out += "]";
    return out;
  };
  std::string name = tree.children.empty() ? "default" : print(tree);
  name += suffix;
  if (world_size > 0) name += ".np" + std::to_string(world_size);
  return name;
}

}  // namespace dgc::train
