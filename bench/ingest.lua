-- wrk script for bench/ingest.py: many agents POSTing reports to /api/v1/reports.
--
-- The bench writes a Lua data file (path in env VIGIE_BENCH_DATA) returning a list of
-- agents, each {token, head, mid, tail}: a real report of that server split around its
-- report_id and its collected_at. Every request takes the next agent in turn and gets a
-- report_id unique across threads and runs ("<run>-<thread>-<n>"), so no POST is a
-- duplicate, and a collected_at of now, so each report is the newest of its server.

local agents
local counter = 0
local index = 0
local thread_id = 0
local run_id = os.getenv("VIGIE_BENCH_RUN") or tostring(os.time())
local next_thread = 0

function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_id", next_thread)
end

function init(args)
  local path = os.getenv("VIGIE_BENCH_DATA")
  assert(path, "VIGIE_BENCH_DATA is not set")
  agents = dofile(path)
  assert(#agents > 0, "no agents in " .. path)
  thread_id = wrk.thread:get("thread_id") or 0
  -- threads start at different agents so that they do not post for the same server at once
  index = (thread_id * 7919) % #agents
end

function request()
  counter = counter + 1
  index = index % #agents + 1
  local a = agents[index]
  local now = os.date("!%Y-%m-%dT%H:%M:%S+00:00")
  local body = a[2] .. run_id .. "-" .. thread_id .. "-" .. counter .. a[3] .. now .. a[4]
  return wrk.format("POST", "/api/v1/reports", {
    ["Authorization"] = "Bearer " .. a[1],
    ["Content-Type"] = "application/json",
  }, body)
end

function done(summary, latency, requests)
  -- one machine-readable line for bench/ingest.py (times in microseconds)
  local e = summary.errors
  io.write(string.format(
    "VIGIE_RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d " ..
    "connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
