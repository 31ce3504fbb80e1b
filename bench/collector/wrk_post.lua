-- The wrk client of the collector benchmark (bench/collector/loadgen.py --client wrk).
--
-- loadgen.py cuts the pool into 500-event bodies, gives each wrk thread its own share in
-- WRK_BODIES/bodies-<thread>.txt (bodies separated by an empty line) and runs
-- `wrk -t N -c N`: one keep-alive connection per thread, so each thread's answers come back in
-- the order of its requests and a request's latency is the time from request() to response().
--
-- Each thread POSTs its bodies in turn. From its share's second pass on, every id of a body gets
-- the prefix "p<pass>-" (as loadgen.py's own threads do), so every event sent is unique.
-- A 429 makes the thread wait for Retry-After; that body is not sent again. After WRK_DEADLINE
-- (CLOCK_MONOTONIC seconds, the clock of Python's time.monotonic()) the thread stops at its
-- next answer, so no request is left in flight: every event the collector stored was answered.
--
-- Each thread writes WRK_BODIES/acks-<thread>.txt: one line per answer,
--   "A <time of the 200> <accepted events> <latency s>" or "R <time>" (429) or
--   "F <status> <first bytes of the answer>", and creates acks-<thread>.done when it stops.
-- The main state writes WRK_SUMMARY: wrk's own request and socket-error counts.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } weir_timespec;
  int clock_gettime(int clk_id, weir_timespec* tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("weir_timespec")
local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
end

local bodies = {}
local next_body = 0
local deadline, acks, acks_path
local sent_at = 0
local retry_ms = 0
local path = "/v1/events"
local headers = {["Content-Type"] = "application/x-ndjson"}
local ID_KEY = '{"data":{"id":"'

function init(args)
  local dir = assert(os.getenv("WRK_BODIES"), "WRK_BODIES is not set")
  deadline = assert(tonumber(os.getenv("WRK_DEADLINE")), "WRK_DEADLINE is not set")
  path = os.getenv("WRK_PATH") or path
  local f = assert(io.open(string.format("%s/bodies-%d.txt", dir, thread_index), "rb"))
  local text = f:read("*a")
  f:close()
  local pos = 1
  while pos <= #text do
    local stop = string.find(text, "\n\n", pos, true)
    if not stop then stop = #text end
    -- Kept cut at each id, so a later pass joins the pieces with the prefixed key in one go.
    local body, pieces, from = string.sub(text, pos, stop), {}, 1
    while true do
      local at = string.find(body, ID_KEY, from, true)
      if not at then break end
      table.insert(pieces, string.sub(body, from, at - 1))
      from = at + #ID_KEY
    end
    table.insert(pieces, string.sub(body, from))
    table.insert(bodies, {text = body, pieces = pieces})
    pos = stop + 2
  end
  assert(#bodies > 0, "no bodies for thread " .. thread_index)
  acks_path = string.format("%s/acks-%d.txt", dir, thread_index)
  acks = assert(io.open(acks_path, "w"))
end

function request()
  local n = #bodies
  local pass = math.floor(next_body / n)
  local b = bodies[next_body % n + 1]
  local body = b.text
  if pass > 0 then body = table.concat(b.pieces, ID_KEY .. "p" .. pass .. "-") end
  next_body = next_body + 1
  sent_at = now()
  return wrk.format("POST", path, headers, body)
end

function delay()
  local d = retry_ms
  retry_ms = 0
  return d
end

function response(status, hdrs, body)
  local t = now()
  if status == 200 then
    local accepted = tonumber(string.match(body, '"accepted"%s*:%s*(%d+)'))
    if accepted then
      acks:write(string.format("A %.6f %d %.6f\n", t, accepted, t - sent_at))
    else
      acks:write("F 200 " .. string.gsub(string.sub(body, 1, 120), "\n", " ") .. "\n")
    end
  elseif status == 429 then
    acks:write(string.format("R %.6f\n", t))
    local wait = tonumber(hdrs["Retry-After"] or hdrs["retry-after"] or "1") or 1
    retry_ms = math.max(0, math.min(wait, deadline - t)) * 1000
  else
    acks:write("F " .. status .. " " .. string.gsub(string.sub(body, 1, 120), "\n", " ") .. "\n")
  end
  if t >= deadline then
    acks:close()
    io.open((string.gsub(acks_path, "%.txt$", ".done")), "w"):close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local out = os.getenv("WRK_SUMMARY")
  if not out then return end
  local e = summary.errors
  local f = assert(io.open(out, "w"))
  f:write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d}, "threads": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    thread_count))
  f:close()
end
