#pragma once

// yaml-cpp documents read with their key paths and lines, so that every error says where it
// is ("bpm.yml:12: processes[0].limits.memory: expected …"). Shared by bpm.yml and
// Concourse's task and pipeline files.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace tarmac::yaml {

inline std::string where(const std::string& file, int line) {
  return line < 0 ? file : file + ":" + std::to_string(line + 1);
}

// A value as a message shows it: scalars quoted (and cut short), others by kind.
inline std::string shown(const YAML::Node& n) {
  if (!n || n.IsNull()) return "nothing";
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  std::string s = n.Scalar();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return "\"" + s + "\"";
}

// A string by its quotes or tag, which go-yaml (bpm's and Concourse's) will not read as a bool or a
// number.
inline bool quoted(const YAML::Node& n) {
  return n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str";
}

class Node;
using Entries = std::vector<std::pair<std::string, Node>>;

// One value of the document with its key path and line, so that every error can say where
// it is. A map's value is placed at its key: a block value's own mark is the line after
// the key, and yaml-cpp gives an implicit null the mark of whatever follows it.
class Node {
 public:
  Node(const std::string& file, YAML::Node node, std::string path, int line)
      : file_(&file), node_(std::move(node)), path_(std::move(path)), line_(line) {}

  bool is_null() const { return !node_ || node_.IsNull(); }
  const YAML::Node& raw() const { return node_; }
  const std::string& path() const { return path_; }
  std::string origin() const { return where(*file_, line_); }

  Error error(std::string_view what) const { return error_at(path_, what); }
  Error error_at(std::string_view path, std::string_view what) const {
    std::string msg = origin() + ": ";
    if (!path.empty()) msg += std::string(path) + ": ";
    return Error(msg + std::string(what));
  }
  std::string child_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  // A string; null reads as "", as go-yaml reads it into a string.
  Result<std::string> text() const {
    if (is_null()) return std::string();
    if (!node_.IsScalar()) return error("expected a string, got " + shown(node_));
    return node_.Scalar();
  }

  // A plain true/false (yes/no and on/off too, as YAML 1.1 and go-yaml allow); a quoted
  // "true" is a string, which go-yaml refuses as well.
  Result<bool> flag() const {
    bool value = false;
    if (!node_.IsScalar() || quoted(node_) || !YAML::convert<bool>::decode(node_, value))
      return error("expected true or false, got " + shown(node_));
    return value;
  }

  Result<uint64_t> count(uint64_t max) const {
    const std::string s = node_.IsScalar() && !quoted(node_) ? node_.Scalar() : "";
    if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return error("expected a non-negative whole number, got " + shown(node_));
    uint64_t n = 0;
    for (char c : s) {
      uint64_t digit = static_cast<uint64_t>(c - '0');
      if (n > (max - digit) / 10)
        return error(shown(node_) + " is too large (at most " + std::to_string(max) + ")");
      n = n * 10 + digit;
    }
    return n;
  }

  Result<std::vector<Node>> items() const {
    if (!node_.IsSequence()) return error("expected a list, got " + shown(node_));
    std::vector<Node> out;
    for (size_t i = 0; i < node_.size(); ++i) {
      YAML::Node item = node_[i];
      int line = item.IsNull() || item.Mark().line < 0 ? line_ : item.Mark().line;
      out.emplace_back(*file_, item, path_ + "[" + std::to_string(i) + "]", line);
    }
    return out;
  }

  // The entries of a map, in file order. With `known`, any other key is refused. A key
  // given twice is refused (go-yaml does the same); "<<" merge keys are
  // followed, the map's own entries winning over merged ones.
  Result<Entries> entries(std::initializer_list<std::string_view> known = {}) const {
    if (!node_.IsMap()) return error("expected a map, got " + shown(node_));
    Entries out;
    TARMAC_TRY(collect(node_, known, 0, out));
    return out;
  }

 private:
  // `depth` counts the merges followed: 0 is the map's own entries. An alias can make a map
  // merge itself, so the depth is bounded.
  Status collect(const YAML::Node& map, std::initializer_list<std::string_view> known, int depth,
                 Entries& out) const {
    if (depth > 8) return error("<<: merges nested too deeply (does a map merge itself?)");
    std::vector<YAML::Node> merges;
    for (const auto& kv : map) {
      int line = kv.first.Mark().line < 0 ? line_ : kv.first.Mark().line;
      if (!kv.first.IsScalar())
        return Node(*file_, kv.first, path_, line)
            .error("expected a string key, got " + shown(kv.first));
      const std::string& name = kv.first.Scalar();
      if (name == "<<" && !quoted(kv.first)) {
        merges.push_back(kv.second);
        continue;
      }
      Node value(*file_, kv.second, child_path(name), line);
      auto seen =
          std::find_if(out.begin(), out.end(), [&](const auto& e) { return e.first == name; });
      if (seen != out.end()) {
        if (depth > 0) continue;
        return value.error("key given twice (first at " + seen->second.origin() + ")");
      }
      if (known.size() > 0 &&
          std::find(known.begin(), known.end(), std::string_view(name)) == known.end()) {
        std::string expected;
        for (std::string_view k : known)
          expected += (expected.empty() ? "" : ", ") + std::string(k);
        return value.error("unknown key; expected one of " + expected);
      }
      out.emplace_back(name, std::move(value));
    }
    for (const YAML::Node& merge : merges) {
      std::vector<YAML::Node> sources;
      if (merge.IsSequence()) {
        for (const auto& m : merge) sources.push_back(m);
      } else {
        sources.push_back(merge);
      }
      for (const YAML::Node& source : sources) {
        if (!source.IsMap()) return error("<<: expected a map to merge, got " + shown(source));
        TARMAC_TRY(collect(source, known, depth + 1, out));
      }
    }
    return {};
  }

  const std::string* file_;
  YAML::Node node_;
  std::string path_;
  int line_ = -1;
};

// A map's entries, looked up by key; a null value counts as absent.
class Fields {
 public:
  Fields(const Node& map, Entries entries) : map_(map), entries_(std::move(entries)) {}

  // The value of `key`, null or not; nullptr when the key is absent.
  const Node* find(std::string_view key) const {
    for (const auto& [name, value] : entries_)
      if (name == key) return &value;
    return nullptr;
  }
  // The value of `key` unless it is absent or null.
  const Node* get(std::string_view key) const {
    const Node* n = find(key);
    return n && !n->is_null() ? n : nullptr;
  }

  Status text(std::string_view key, std::string& out) const {
    if (const Node* n = get(key)) return assign(n->text(), out);
    return {};
  }
  Status flag(std::string_view key, bool& out) const {
    if (const Node* n = get(key)) return assign(n->flag(), out);
    return {};
  }
  Status count(std::string_view key, uint64_t max, std::optional<uint64_t>& out) const {
    if (const Node* n = get(key)) return assign(n->count(max), out);
    return {};
  }
  // Present, a string and not empty.
  Status required(std::string_view key, std::string& out) const {
    TARMAC_TRY(text(key, out));
    if (!out.empty()) return {};
    if (const Node* n = find(key)) return n->error("must not be empty");
    return map_.error_at(map_.child_path(key), "required but missing");
  }
  // Each item through `read`, when the key is present.
  Status each(std::string_view key, const std::function<Status(const Node&)>& read) const {
    const Node* n = get(key);
    if (!n) return {};
    auto items = n->items();
    if (!items) return std::move(items).error();
    for (const Node& item : *items) TARMAC_TRY(read(item));
    return {};
  }

 private:
  template <typename T, typename Out>
  static Status assign(Result<T> value, Out& out) {
    if (!value) return std::move(value).error();
    out = std::move(*value);
    return {};
  }

  Node map_;
  Entries entries_;
};

inline Result<Fields> fields(const Node& n, std::initializer_list<std::string_view> known) {
  auto entries = n.entries(known);
  if (!entries) return std::move(entries).error();
  return Fields(n, std::move(*entries));
}

inline Status read_texts(const Fields& f, std::string_view key, std::vector<std::string>& out) {
  return f.each(key, [&](const Node& item) -> Status {
    auto s = item.text();
    if (!s) return std::move(s).error();
    out.push_back(std::move(*s));
    return {};
  });
}

}  // namespace tarmac::yaml
