// The status page's HTML, rendered from hand-built snapshots: what a person
// looks for (the blocked hop with its address, class and AS, expanded first; a
// ticket to copy), that nothing from the network reaches the page unescaped,
// the round history, and the cost with 10,000 targets.

#include "exporter/status_page.h"

#include <gtest/gtest.h>

#include <chrono>
#include <utility>

#include "../exporter/test_snapshots.h"

namespace portpath::exporter {
namespace {

using test_data::FilteredTarget;
using test_data::OpenTarget;

StatusPageOptions Options() {
  StatusPageOptions o;
  o.version = "0.1.0";
  o.hostname = "node-a";
  return o;
}

TargetSnapshot CarrierBlocked() {
  TargetSnapshot t = FilteredTarget();
  t.last->blocked_hop->asn = 64500;
  t.last->blocked_hop->as_org = "Example Transit, Inc.";
  t.last->hops[1].asn = 64500;
  t.last->hops[1].as_org = "Example Transit, Inc.";
  t.last->icmp_reachable = true;
  t.last->icmp_destination_ttl = 7;
  return t;
}

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(StatusPageTest, BlockedTargetFirstAndExpandedWithItsHop) {
  Snapshot s;
  s.targets = {OpenTarget(), CarrierBlocked()};
  StatusPage page(Options());
  page.Observe(std::make_shared<Snapshot>(s));
  const std::string html = page.RenderPage(s, 1700000060);
  auto blocked = html.find("data-target=\"web.example.com:443\"");
  auto open = html.find("data-target=\"db.example.com:5432\"");
  ASSERT_NE(blocked, std::string::npos);
  ASSERT_NE(open, std::string::npos);
  EXPECT_LT(blocked, open) << "blocked targets come first";
  EXPECT_NE(html.find("data-blocked=\"1\" open data-loaded=\"1\">", blocked), std::string::npos);
  EXPECT_NE(html.find("blocked after hop 2 100.64.0.1 (shared, AS64500 Example Transit, Inc.)"),
            std::string::npos);
  // The drawing marks hop 2, and the break after it.
  EXPECT_NE(html.find("<g class=\"hop blocked\" data-ttl=\"2\">"), std::string::npos);
  EXPECT_EQ(Count(html, "<g class=\"stop\">"), 1u);
  // The open target's detail is not in the page: it loads on demand.
  EXPECT_EQ(Count(html, "<textarea class=\"ticket\""), 1u);
  EXPECT_EQ(html.find("src="), std::string::npos) << "no external assets";
  EXPECT_EQ(html.find("<link"), std::string::npos) << "no external style sheets";
  EXPECT_EQ(html.find("url("), std::string::npos) << "no external images or fonts";
}

TEST(StatusPageTest, TicketSaysWhatFailsSinceWhenFromWhereAndWho) {
  Snapshot s;
  s.targets = {CarrierBlocked()};
  StatusPage page(Options());
  page.Observe(std::make_shared<Snapshot>(s));
  const std::string ticket = page.TicketText(s.targets[0]);
  for (const char* line :
       {"TCP port 443 of web.example.com is filtered after hop 2\n",
        "What fails:   TCP connections to web.example.com (203.0.113.5) port 443: filtered\n",
        "Since:        2023-11-14 22:13:20 UTC", "From:         portpath on node-a (team=web)\n",
        // One line over two literals: no comma missing.
        // NOLINTNEXTLINE(bugprone-suspicious-missing-comma)
        "Ping:         the host answers ping (7 hops away): it is up, only the TCP port is "
        "stopped\n",
        "Blocked hop:  hop 2, 100.64.0.1 (shared, AS64500 Example Transit, Inc.)\n",
        "Verdict:      ",
        "  2  100.64.0.1  shared  AS64500 Example Transit, Inc.  5.000 ms   <- the port stops "
        "here\n",
        "  3  *\n", "by portpath 0.1.0"}) {
    EXPECT_NE(ticket.find(line), std::string::npos) << line << "\n--- ticket ---\n" << ticket;
  }
}

TEST(StatusPageTest, ADetailShowsTheHopsOfAResultStoredPacked) {
  // portpath serve keeps every result with its hops packed (SharedResult::Packed).
  TargetSnapshot plain = CarrierBlocked();
  TargetSnapshot packed = plain;
  packed.last = SharedResult::Packed(*std::as_const(plain.last));
  StatusPage page(Options());
  EXPECT_EQ(page.RenderDetail(packed, 1700000060), page.RenderDetail(plain, 1700000060));
  EXPECT_EQ(page.TicketText(packed), page.TicketText(plain));
  EXPECT_NE(page.RenderDetail(packed, 1700000060).find("100.64.0.1"), std::string::npos);
}

TEST(StatusPageTest, NothingFromTheNetworkOrTheConfigIsUnescaped) {
  TargetSnapshot t = CarrierBlocked();
  t.last->blocked_hop->as_org = "<script>alert(1)</script>";
  t.last->hops[1].as_org = "<script>alert(1)</script>";
  t.last->hops[1].name = "\"><img onerror=x>";
  t.labels = {{"team", "<i>web</i>"}};
  Snapshot s;
  s.targets = {t};
  StatusPage page(Options());
  const std::string html = page.RenderPage(s, 1700000060);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<i>web"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
}

TEST(StatusPageTest, TimelineKeepsRecentRoundsAndSinceFollowsChanges) {
  StatusPageOptions o = Options();
  o.history = 3;
  StatusPage page(o);
  Snapshot s;
  s.targets = {CarrierBlocked()};
  for (int i = 0; i < 5; ++i) {
    s.targets[0].last->finished_at = 1000 + 10 * i;
    page.Observe(std::make_shared<Snapshot>(s));
    page.Observe(std::make_shared<Snapshot>(s));  // the same round seen twice is one round
  }
  std::string detail = page.RenderDetail(s.targets[0], 1100);
  EXPECT_EQ(Count(detail, "<rect class=\"o-filtered\""), 3u);
  EXPECT_NE(page.TicketText(s.targets[0]).find("Since:        1970-01-01 00:16:40 UTC"),
            std::string::npos)
      << "since the first round with this result";
  // Unblocked: a new state starts.
  s.targets[0] = OpenTarget();
  s.targets[0].target = "web.example.com:443";
  s.targets[0].last->finished_at = 1060;
  page.Observe(std::make_shared<Snapshot>(s));
  detail = page.RenderDetail(s.targets[0], 1100);
  EXPECT_EQ(Count(detail, "<rect class=\"o-filtered\""), 2u);
  EXPECT_EQ(Count(detail, "<rect class=\"o-open\""), 1u);
  EXPECT_EQ(detail.find("textarea"), std::string::npos) << "no ticket for an open port";
}

TEST(StatusPageTest, OneTargetsDetailOnDemand) {
  Snapshot s;
  s.targets = {OpenTarget()};
  StatusPage page(Options());
  HttpResponse r = page.Handle(s, std::string("db.example.com:5432"), 1700000060);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<svg class=\"path\""), std::string::npos);
  EXPECT_NE(r.body.find("<g class=\"node dst reached\">"), std::string::npos);
  EXPECT_EQ(page.Handle(s, std::string("nope:1"), 0).status, 404);
  r = page.Handle(s, std::nullopt, 0);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.compressible);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
}

TEST(StatusPageTest, TenThousandTargetsStayLight) {
  Snapshot s;
  for (int i = 0; i < 10000; ++i) {
    TargetSnapshot t = i % 10 == 0 ? CarrierBlocked() : OpenTarget();
    t.target = "198.18." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ":443";
    t.host = t.target.substr(0, t.target.size() - 4);
    s.targets.push_back(std::move(t));
  }
  StatusPage page(Options());
  page.Observe(std::make_shared<Snapshot>(s));
  // The render time is printed, not asserted: speed belongs to a benchmark, and a
  // loaded or sanitized run would make a bound here flaky or meaningless.
  auto start = std::chrono::steady_clock::now();
  const std::string html = page.RenderPage(s, 1700000060);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(Count(html, "<details class=\"t"), 10000u);
  EXPECT_EQ(Count(html, " open data-loaded"), 100u) << "only the first 100 blocked ones expanded";
  EXPECT_LT(html.size(), 6u * 1024 * 1024);
  std::printf("10,000 targets (1,000 blocked): %.0f ms, %zu KiB\n", seconds * 1000,
              html.size() / 1024);
}

}  // namespace
}  // namespace portpath::exporter
