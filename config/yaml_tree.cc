#include "config/yaml_tree.h"

#include <cstddef>
#include <utility>

namespace portpath::config {

YamlNode::Kind YamlNode::kind() const { return tree_->nodes_[id_].kind; }

const std::string& YamlNode::Scalar() const { return tree_->nodes_[id_].scalar; }

const YAML::Mark& YamlNode::Mark() const { return tree_->nodes_[id_].mark; }

std::size_t YamlNode::size() const {
  const YamlTree::Entry& entry = tree_->nodes_[id_];
  switch (entry.kind) {
    case Kind::kSequence:
      return entry.count;
    case Kind::kMap:
      return entry.count / 2;
    case Kind::kNull:
    case Kind::kScalar:
      break;
  }
  return 0;
}

YamlNode YamlNode::Child(std::size_t i) const {
  return {tree_, tree_->links_[tree_->nodes_[id_].first + i]};
}

YamlNode YamlNode::Item(std::size_t i) const { return Child(i); }

YamlNode YamlNode::Key(std::size_t i) const { return Child(2 * i); }

YamlNode YamlNode::Value(std::size_t i) const { return Child(2 * i + 1); }

std::uint32_t YamlTreeBuilder::Open(YamlNode::Kind kind, const YAML::Mark& mark,
                                    YAML::anchor_t anchor) {
  const auto id = static_cast<std::uint32_t>(tree_.nodes_.size());
  YamlTree::Entry& entry = tree_.nodes_.emplace_back();
  entry.kind = kind;
  entry.mark = mark;
  // The parser registers anchors in the order the nodes start, as YAML::Load's builder does;
  // an alias can name a collection that is still open (a cycle, as in YAML::Load).
  if (anchor != YAML::NullAnchor) {
    if (anchors_.size() <= anchor) anchors_.resize(anchor + 1, 0);
    anchors_[anchor] = id;
  }
  return id;
}

void YamlTreeBuilder::Add(std::uint32_t id) {
  if (!open_.empty()) {
    pending_.push_back(id);
  } else if (!have_root_) {
    tree_.root_ = id;
    have_root_ = true;
  }
}

void YamlTreeBuilder::Close() {
  if (open_.empty()) return;
  const OpenCollection closing = open_.back();
  open_.pop_back();
  YamlTree::Entry& entry = tree_.nodes_[closing.id];
  entry.first = static_cast<std::uint32_t>(tree_.links_.size());
  entry.count = static_cast<std::uint32_t>(pending_.size() - closing.first_pending);
  const auto first_child = pending_.begin() + static_cast<std::ptrdiff_t>(closing.first_pending);
  tree_.links_.insert(tree_.links_.end(), first_child, pending_.end());
  pending_.resize(closing.first_pending);
  Add(closing.id);
}

void YamlTreeBuilder::OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) {
  Add(Open(YamlNode::Kind::kNull, mark, anchor));
}

void YamlTreeBuilder::OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) {
  // The parser has already rejected an alias to an undefined anchor; should one arrive anyway,
  // it reads as an empty value rather than as some other node.
  if (anchor < anchors_.size() && anchors_[anchor] != 0) {
    Add(anchors_[anchor]);
  } else {
    Add(Open(YamlNode::Kind::kNull, mark, YAML::NullAnchor));
  }
}

void YamlTreeBuilder::OnScalar(const YAML::Mark& mark, const std::string& /*tag*/,
                               YAML::anchor_t anchor, const std::string& value) {
  const std::uint32_t id = Open(YamlNode::Kind::kScalar, mark, anchor);
  tree_.nodes_[id].scalar = value;
  Add(id);
}

void YamlTreeBuilder::OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/,
                                      YAML::anchor_t anchor, YAML::EmitterStyle::value /*style*/) {
  open_.push_back({Open(YamlNode::Kind::kSequence, mark, anchor), pending_.size()});
}

void YamlTreeBuilder::OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/,
                                 YAML::anchor_t anchor, YAML::EmitterStyle::value /*style*/) {
  open_.push_back({Open(YamlNode::Kind::kMap, mark, anchor), pending_.size()});
}

}  // namespace portpath::config
