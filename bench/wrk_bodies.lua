-- wrk script of bench/api_latency.py: POST request bodies round-robin, one JSON body per line.
--
--   WRK_BODIES=bodies.jsonl WRK_PATH=/v1/existence-checks \
--     wrk -t2 -c16 -d60s --timeout 10s -s bench/wrk_bodies.lua http://127.0.0.1:8000
--
-- WRK_BODIES: a file with one request body per line (sent as-is, Content-Type JSON).
-- WRK_PATH:   the path to POST to (default /v1/existence-checks; /<index>/_search for the
--             queries sent straight to OpenSearch).
-- Each thread starts at its own offset of the list and cycles through all of it. The requests
-- are formatted once in init(), so the generator's per-request work is a table look-up.
-- At the end it prints one line, "WRK_RESULT <json>": requests, errors, latency percentiles
-- (microseconds) and, per thread, the statuses seen and how many 200s said "found": true.

local bodies_file = os.getenv("WRK_BODIES")
local path = os.getenv("WRK_PATH") or "/v1/existence-checks"
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_index", #threads - 1)
end

function init(args)
  local headers = { ["Content-Type"] = "application/json" }
  requests_ = {}
  for line in io.lines(bodies_file) do
    if #line > 0 then
      requests_[#requests_ + 1] = wrk.format("POST", path, headers, line)
    end
  end
  if #requests_ == 0 then
    error("no request bodies in " .. tostring(bodies_file))
  end
  -- Threads start 7,919 bodies apart (a prime), so two threads do not send the same sequence.
  position = (thread_index * 7919) % #requests_
  found = 0
  not_found = 0
  statuses = {}
end

function request()
  position = position % #requests_ + 1
  return requests_[position]
end

function response(status, headers, body)
  if status == 200 then
    if string.find(body, '"found":true', 1, true) then
      found = found + 1
    elseif string.find(body, '"found":false', 1, true) then
      not_found = not_found + 1
    end
  end
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

local function json_object(entries)
  local parts = {}
  for key, value in pairs(entries) do
    parts[#parts + 1] = string.format('"%s":%s', key, tostring(value))
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local per_thread = {}
  for _, thread in ipairs(threads) do
    per_thread[#per_thread + 1] = json_object({
      found = thread:get("found"),
      not_found = thread:get("not_found"),
      statuses = json_object(thread:get("statuses")),
    })
  end
  local percentiles = {}
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    percentiles[#percentiles + 1] = string.format('"%s":%d', tostring(p), latency:percentile(p))
  end
  io.write(
    "WRK_RESULT ",
    json_object({
      duration_us = summary.duration,
      requests = summary.requests,
      bytes = summary.bytes,
      errors = json_object(summary.errors),
      latency_us = json_object({
        min = latency.min,
        max = latency.max,
        mean = string.format("%.1f", latency.mean),
        stdev = string.format("%.1f", latency.stdev),
        percentiles = "{" .. table.concat(percentiles, ",") .. "}",
      }),
      threads = "[" .. table.concat(per_thread, ",") .. "]",
    }),
    "\n"
  )
end
