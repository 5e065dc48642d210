// A YAML document as a flat, read-only tree, built from yaml-cpp's parser events.
//
// Internal to portpath::config (config.cc): the loader walks the first document of the stream
// with YAML::Parser anyway, to find a second document and to stop on input that never ends
// (see ScanDocuments), so it builds this tree in the same pass instead of parsing the text a
// second time with YAML::Load. It holds what the loader reads (kind, scalar text, position,
// children in file order, aliases as the node they name, repeated keys kept) in two vectors.
// YAML::Load builds the same shape out of a few shared-pointer nodes per node; under the fuzz
// build's ASan allocator that was most of the loader's cost (tests/fuzz/RESULTS.md).
//
// Thread-safety: a YamlTree is immutable once built and may be read from any thread; YamlNode
// is a view into one and must not outlive it. YamlTreeBuilder is single-threaded.
#pragma once

#include <yaml-cpp/anchor.h>
#include <yaml-cpp/emitterstyle.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/mark.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace portpath::config {

class YamlTree;

/// One node of a YamlTree, read the way config.cc reads a YAML::Node: an alias is the node its
/// anchor names (the same position, children and scalar), as in YAML::Load.
class YamlNode {
 public:
  enum class Kind : std::uint8_t { kNull, kScalar, kSequence, kMap };

  Kind kind() const;
  bool IsNull() const { return kind() == Kind::kNull; }
  bool IsScalar() const { return kind() == Kind::kScalar; }
  bool IsSequence() const { return kind() == Kind::kSequence; }
  bool IsMap() const { return kind() == Kind::kMap; }
  /// The text of a scalar; empty for any other kind.
  const std::string& Scalar() const;
  /// Where the node starts (0-based, as yaml-cpp counts); the null mark for the root of an
  /// empty stream.
  const YAML::Mark& Mark() const;
  /// Items of a sequence, entries of a map (repeated keys each count), 0 otherwise.
  std::size_t size() const;
  /// Item `i` of a sequence. i < size().
  YamlNode Item(std::size_t i) const;
  /// Key and value of entry `i` of a map, in file order. i < size().
  YamlNode Key(std::size_t i) const;
  YamlNode Value(std::size_t i) const;

 private:
  friend class YamlTree;
  YamlNode(const YamlTree* tree, std::uint32_t id) : tree_(tree), id_(id) {}
  YamlNode Child(std::size_t i) const;

  const YamlTree* tree_;
  std::uint32_t id_;
};

/// The first document of a YAML stream. Built by YamlTreeBuilder; movable, not copyable (nodes
/// point into it).
class YamlTree {
 public:
  YamlTree() = default;
  YamlTree(YamlTree&&) = default;
  YamlTree& operator=(YamlTree&&) = default;
  YamlTree(const YamlTree&) = delete;
  YamlTree& operator=(const YamlTree&) = delete;

  /// The document's top node: a null node with the null mark when the stream had no document.
  YamlNode Root() const { return {this, root_}; }

 private:
  friend class YamlNode;
  friend class YamlTreeBuilder;
  struct Entry {
    YamlNode::Kind kind = YamlNode::Kind::kNull;
    YAML::Mark mark = YAML::Mark::null_mark();
    std::string scalar;
    // Children in links_[first, first + count): items of a sequence, or key, value, key,
    // value... of a map.
    std::uint32_t first = 0;
    std::uint32_t count = 0;
  };
  std::vector<Entry> nodes_{Entry{}};  // nodes_[0]: the null root of an empty stream
  std::vector<std::uint32_t> links_;
  std::uint32_t root_ = 0;
};

/// Receives the events of one document (YAML::Parser::HandleNextDocument) and builds its tree.
class YamlTreeBuilder : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override;
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override;
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override;
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value style) override;
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value style) override;
  void OnMapEnd() override { Close(); }

  /// The tree of the events received so far (call once, after the document's last event).
  YamlTree Finish() { return std::move(tree_); }

 private:
  std::uint32_t Open(YamlNode::Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor);
  void Add(std::uint32_t id);
  void Close();

  struct OpenCollection {
    std::uint32_t id;
    std::size_t first_pending;  // where its children start in pending_
  };
  YamlTree tree_;
  std::vector<OpenCollection> open_;
  // Children of the open collections, innermost last; moved to links_ when one closes, so a
  // collection's children are contiguous there.
  std::vector<std::uint32_t> pending_;
  // yaml-cpp numbers anchors from 1 in the order they are defined; 0 is "no anchor".
  std::vector<std::uint32_t> anchors_{0};
  bool have_root_ = false;
};

}  // namespace portpath::config
