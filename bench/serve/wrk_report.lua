-- wrk script of the serve load test (bench/serve/run.sh --load): paces each
-- connection (WRK_DELAY_MS between a response and the next request, so the load
-- is steady rather than all the CPU there is) and prints one machine-readable
-- line at the end.
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0")

function delay()
  return delay_ms
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "wrk_result requests=%d seconds=%.1f bytes=%d connect=%d read=%d write=%d timeout=%d " ..
    "non2xx=%d latency_mean_ms=%.1f latency_p99_ms=%.1f latency_max_ms=%.1f\n",
    summary.requests, summary.duration / 1e6, summary.bytes, e.connect, e.read, e.write,
    e.timeout, e.status, latency.mean / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
