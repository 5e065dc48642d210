// --labels NAME=VALUE,...: what a DaemonSet passes from the downward API.

#include "config/extra_labels.h"

#include <gtest/gtest.h>

namespace portpath::config {
namespace {

TEST(ExtraLabelsTest, ParsesCommaSeparatedPairs) {
  std::string error;
  auto labels = ParseExtraLabels("node=worker-1,pod=portpath-x7k2p", error);
  ASSERT_TRUE(labels) << error;
  EXPECT_EQ(*labels,
            (std::map<std::string, std::string>{{"node", "worker-1"}, {"pod", "portpath-x7k2p"}}));
  labels = ParseExtraLabels("zone=eu-west-1a", error);
  ASSERT_TRUE(labels) << error;
  EXPECT_EQ(labels->at("zone"), "eu-west-1a");
  // A value may hold '=' (only ',' separates pairs).
  EXPECT_EQ(ParseExtraLabels("k=a=b", error)->at("k"), "a=b");
}

TEST(ExtraLabelsTest, RefusesWhatTheConfigRefuses) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"", "'' is not a label name"},
      {"node", "'node' is not a label name"},
      {"1node=a", "'1node' is not a label name"},
      {"no-de=a", "'no-de' is not a label name"},
      {"__node=a", "'__node' is not a label name"},
      {"instance=a", "'instance' is a reserved label name"},
      {"target=a", "'target' is a reserved label name"},
      {"node=", "the value of 'node' is empty"},
      {"node=a,", "'' is not a label name"},
      {"node=a,node=b", "'node' is given twice"},
  };
  for (const Case& c : cases) {
    std::string error;
    EXPECT_FALSE(ParseExtraLabels(c.text, error)) << c.text;
    EXPECT_TRUE(error.starts_with(c.error)) << c.text << ": " << error;
  }
}

TEST(ExtraLabelsTest, AddedToEveryTargetAndWinOverTheFile) {
  Config c;
  c.targets.resize(2);
  c.targets[0].labels = {{"team", "db"}, {"node", "from-file"}};
  AddExtraLabels(c, {{"node", "worker-1"}, {"pod", "p"}});
  EXPECT_EQ(c.targets[0].labels, (std::map<std::string, std::string>{
                                     {"node", "worker-1"}, {"pod", "p"}, {"team", "db"}}));
  EXPECT_EQ(c.targets[1].labels,
            (std::map<std::string, std::string>{{"node", "worker-1"}, {"pod", "p"}}));
}

}  // namespace
}  // namespace portpath::config
