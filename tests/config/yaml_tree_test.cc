// YamlTree against YAML::Load, which the config loader used before: for every document here the
// two must agree on each node's kind, scalar text, position and children, in order. The config
// tests check the loader's messages; these check the tree they are now read from.
#include "config/yaml_tree.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace portpath::config {
namespace {

YamlTree Build(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  YamlTreeBuilder builder;
  parser.HandleNextDocument(builder);
  return builder.Finish();
}

std::string Where(const YAML::Mark& mark) {
  return std::to_string(mark.pos) + "@" + std::to_string(mark.line) + ":" +
         std::to_string(mark.column);
}

// Compares to `depth` levels (an alias may make a cycle, in both).
void ExpectSame(const YAML::Node& expected, const YamlNode& actual, const std::string& path,
                int depth = 16) {
  SCOPED_TRACE(path);
  EXPECT_EQ(Where(actual.Mark()), Where(expected.Mark()));
  switch (expected.Type()) {
    case YAML::NodeType::Undefined:
      ADD_FAILURE() << "YAML::Load built an undefined node";
      return;
    case YAML::NodeType::Null:
      EXPECT_TRUE(actual.IsNull());
      EXPECT_EQ(actual.size(), 0U);
      return;
    case YAML::NodeType::Scalar:
      ASSERT_TRUE(actual.IsScalar());
      EXPECT_EQ(actual.Scalar(), expected.Scalar());
      EXPECT_EQ(actual.size(), 0U);
      return;
    case YAML::NodeType::Sequence: {
      ASSERT_TRUE(actual.IsSequence());
      ASSERT_EQ(actual.size(), expected.size());
      if (depth == 0) return;
      std::size_t i = 0;
      for (const YAML::Node& item : expected) {
        ExpectSame(item, actual.Item(i), path + "/" + std::to_string(i), depth - 1);
        ++i;
      }
      return;
    }
    case YAML::NodeType::Map: {
      ASSERT_TRUE(actual.IsMap());
      ASSERT_EQ(actual.size(), expected.size());
      if (depth == 0) return;
      std::size_t i = 0;
      for (auto it = expected.begin(); it != expected.end(); ++it, ++i) {
        const std::string at = path + "/" + std::to_string(i);
        ExpectSame(it->first, actual.Key(i), at + "(key)", depth - 1);
        ExpectSame(it->second, actual.Value(i), at, depth - 1);
      }
      return;
    }
  }
}

void ExpectSameAsLoad(const std::string& text) {
  SCOPED_TRACE(text);
  const YamlTree tree = Build(text);
  ExpectSame(YAML::Load(text), tree.Root(), "");
}

TEST(YamlTreeTest, MatchesYamlLoadOnBlockAndFlowStyles) {
  ExpectSameAsLoad("a: 1\nb: [x, 'y', \"z\"]\nc: {d: e, f: [g, {h: i}]}\n");
  ExpectSameAsLoad("targets:\n  - host: a\n    ports:\n      - 80\n      - 443\n  - {host: b}\n");
  ExpectSameAsLoad("- |\n  two\n  lines\n- >-\n  folded\n- !!int 22\n- !!str 1m30s\n");
}

TEST(YamlTreeTest, MatchesYamlLoadOnEmptyValues) {
  ExpectSameAsLoad("a:\nb: ~\nc: null\nd: ''\ne: \"null\"\n");
  ExpectSameAsLoad("{,}");
  ExpectSameAsLoad("[a,,b]");
  ExpectSameAsLoad("labels: {tep,,,,x: 1,,}\nports: [80, 443,,,]\n");
}

TEST(YamlTreeTest, EmptyStreamIsANullRootWithoutAPosition) {
  const YamlTree tree = Build("");
  EXPECT_TRUE(tree.Root().IsNull());
  EXPECT_TRUE(tree.Root().Mark().is_null());
  ExpectSameAsLoad("");
  ExpectSameAsLoad("# only a comment\n");
  ExpectSameAsLoad("---\n");
}

TEST(YamlTreeTest, KeepsRepeatedKeysInFileOrder) {
  const std::string text = "a: 1\nb: 2\na: 3\n";
  ExpectSameAsLoad(text);
  const YamlTree tree = Build(text);
  ASSERT_EQ(tree.Root().size(), 3U);
  EXPECT_EQ(tree.Root().Key(2).Scalar(), "a");
  EXPECT_EQ(tree.Root().Value(2).Scalar(), "3");
}

TEST(YamlTreeTest, AnAliasIsTheNodeItNames) {
  const std::string text = "base: &b {interval: 10s}\ndefaults:\n  <<: *b\nlist: [*b, &s x, *s]\n";
  ExpectSameAsLoad(text);
  const YamlTree tree = Build(text);
  const YamlNode base = tree.Root().Value(0);
  const YamlNode alias = tree.Root().Value(1).Value(0);
  EXPECT_EQ(Where(alias.Mark()), Where(base.Mark()));
  ASSERT_TRUE(alias.IsMap());
  EXPECT_EQ(alias.Value(0).Scalar(), "10s");
  // An anchor's name may be defined again; an alias names the latest.
  ExpectSameAsLoad("- &a 1\n- *a\n- &a 2\n- *a\n");
}

TEST(YamlTreeTest, AnAliasInsideItsOwnAnchorMakesACycleAsInYamlLoad) {
  ExpectSameAsLoad("&a [x, *a]");
  ExpectSameAsLoad("&m {k: *m, j: [*m]}");
  const YamlTree tree = Build("&a [x, *a]");
  EXPECT_EQ(Where(tree.Root().Item(1).Mark()), Where(tree.Root().Mark()));
  EXPECT_EQ(tree.Root().Item(1).Item(1).Item(0).Scalar(), "x");
}

TEST(YamlTreeTest, ComplexKeysAreNodesLikeAnyOther) {
  ExpectSameAsLoad("? [a, b]\n: 1\n? {c: d}\n: [2]\n");
}

TEST(YamlTreeTest, BuildsTheFirstDocumentOnly) {
  const std::string text = "a: 1\n---\nb: 2\n";
  ExpectSameAsLoad(text);
  EXPECT_EQ(Build(text).Root().Key(0).Scalar(), "a");
}

TEST(YamlTreeTest, MatchesYamlLoadOnTheConfigFixtures) {
  for (const std::string& path : {std::string(PORTPATH_CONFIG_FIXTURES) + "/valid.yaml",
                                  std::string(PORTPATH_CONFIG_FIXTURES) + "/invalid.yaml",
                                  std::string(PORTPATH_CONFIG_EXAMPLE)}) {
    std::ifstream in(path);
    ASSERT_TRUE(in) << path;
    ExpectSameAsLoad(std::string(std::istreambuf_iterator<char>(in), {}));
  }
}

}  // namespace
}  // namespace portpath::config
