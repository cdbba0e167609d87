-- wrk script for bench/run.py: the method and form body come from the
-- environment (the session cookie comes with -H), and the summary is printed
-- as one JSON line that run.py reads (wrk's own --latency output has no p95).
-- BENCH_BODY may hold several bodies, one per line (url-encoded bodies hold no
-- newline): each request sends the next, round the list.
local method = os.getenv("BENCH_METHOD") or "GET"
local bodies = {}
for body in string.gmatch(os.getenv("BENCH_BODY") or "", "[^\n]+") do
  table.insert(bodies, body)
end

wrk.method = method
if #bodies > 0 then
  wrk.body = bodies[1]
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
if #bodies > 1 then
  local next_body = 0
  request = function()
    next_body = next_body % #bodies + 1
    return wrk.format(nil, nil, nil, bodies[next_body])
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, '
      .. '"p95_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d, "errors_status": %d, '
      .. '"errors_connect": %d, "errors_read": %d, "errors_write": %d, "errors_timeout": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.mean, latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
