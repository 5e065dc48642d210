#pragma once
/// Turns the probe loop's latest Snapshot into the Prometheus text exposition
/// (format 0.0.4) at scrape time. Nothing is registered: every scrape writes the
/// snapshot it is given, so a target removed from the config, or a hop that is
/// no longer on the path, disappears at the next scrape without bookkeeping.
///
/// Cheap at 10,000 targets: lines are written straight from the results into
/// the output (no metric objects, no label vectors), each target's label pairs
/// come pre-rendered from the snapshot (TargetSnapshot::label_text), and with
/// gzip the text is compressed in 64 KB pieces as it is written, so a scrape
/// holds the compressed body, never the whole text.
///
/// Cardinality by design: by default a target port has about 10 series (the
/// ones alerts and dashboards use; Detail::kDefault); per-hop series and the
/// other detail come with the config's hop_metrics (all, or blocked targets
/// only) and always with /probe?target=.

#include <prometheus/collectable.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "exporter/http_server.h"
#include "exporter/snapshot.h"

namespace portpath::exporter {

/// Where the exposition goes: text is gathered into pieces of about 64 KB and
/// handed to `sink` (TextWriter appends them to a string, GzipWriter deflates
/// them). Not thread-safe: one per scrape.
class ExpositionWriter {
 public:
  explicit ExpositionWriter(std::function<void(std::string_view)> sink);
  ExpositionWriter(const ExpositionWriter&) = delete;
  ExpositionWriter& operator=(const ExpositionWriter&) = delete;

  /// The buffer to append to; call MaybeFlush() after each line.
  std::string& buffer() { return buffer_; }
  void MaybeFlush() {
    if (buffer_.size() >= kPiece) Flush();
  }
  void Flush();

  static constexpr std::size_t kPiece = std::size_t{64} * 1024;

 private:
  std::function<void(std::string_view)> sink_;
  std::string buffer_;
};

/// `target="...",host="...",port="..."` and then the target's config labels in
/// name order, escaped: what TargetSnapshot::label_text holds. Pure.
std::string RenderLabelText(const std::string& target, const std::string& host, std::uint16_t port,
                            const std::map<std::string, std::string>& labels);

/// Writes every family of `snapshot`: the per-target series at each target's
/// detail (`force_full`: every target in full, as /probe does), then, with
/// `self_metrics`, the loop's own (probes sent, replies, reloads, traces_total).
/// Families without series are left out. Pure and thread-safe.
void WriteSnapshot(const Snapshot& snapshot, ExpositionWriter& out, bool force_full = false,
                   bool self_metrics = true);

/// The whole exposition of `snapshot` as text (each target at its configured
/// detail, self metrics included). Pure and thread-safe.
std::string RenderSnapshotText(const Snapshot& snapshot);

/// The per-target series only, every target in full detail, without the
/// loop's self metrics: what /probe?target= returns. Pure and thread-safe.
std::string RenderTargetsText(const TargetList& targets);

/// Serializes the families of prometheus::Collectables (portpath_build_info,
/// process_*) into `out`.
void WriteCollectables(const std::vector<std::shared_ptr<prometheus::Collectable>>& collectables,
                       ExpositionWriter& out);

/// GET /metrics of `portpath serve`: the collectables (process metrics) and the
/// latest snapshot, gzip-compressed as it is written when the request's
/// Accept-Encoding allows (what Prometheus sends), plain text otherwise.
///
/// Thread-safety: immutable after construction; operator() and Text() run on
/// several HTTP threads at once. They call the snapshot getter (which must be
/// thread-safe, e.g. ProberService::snapshot) and only read the immutable
/// snapshot it returns, so a scrape never waits for the probe loop, nor the
/// loop for a scrape.
class MetricsEndpoint {
 public:
  /// `snapshot` returns the latest published snapshot; nullptr means "nothing
  /// published yet" and yields the collectables only.
  MetricsEndpoint(std::function<SnapshotPtr()> snapshot,
                  std::vector<std::shared_ptr<prometheus::Collectable>> collectables = {});

  HttpResponse operator()(const HttpRequest& request) const;
  /// The uncompressed exposition.
  std::string Text() const;
  /// The gzip (RFC 1952) stream of Text(), compressed while it is written.
  std::string Gzipped() const;

 private:
  void Write(ExpositionWriter& out) const;

  std::function<SnapshotPtr()> snapshot_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
};

}  // namespace portpath::exporter
