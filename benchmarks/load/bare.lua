-- The bare view, under the same wrk threads and connections as the annotate load.
function done(summary, latency, requests)
  local errors = summary.errors
  local out = io.open(os.getenv("ANNOTATE_LOAD_RESULT"), "w")
  out:write(string.format(
    '{"requests": %d, "seconds": %.3f, "non_2xx": %d, "socket_errors": %d, "timeouts": %d, ' ..
    '"p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}',
    summary.requests, summary.duration / 1e6, errors.status,
    errors.connect + errors.read + errors.write, errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
  out:close()
end
