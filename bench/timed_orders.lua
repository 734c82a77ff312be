-- wrk script: POST /api/orders for distinct tickets, with each response's latency kept by
-- status, so admitted (201) and shed (503) requests get percentiles of their own (wrk's
-- own latency figures mix them). Run with one connection per thread (-t N -c N): then a
-- response always answers the thread's last request. Thread k takes the ids k, k + N, …
-- from <first index>, so no two requests name the same ticket. A shed request (503) is
-- followed by its Retry-After's wait, as a client that honours it would.
-- args: <ticket id file> <first index> <cookie> <threads>

local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_usec; } timeval;
  int gettimeofday(timeval *tv, void *tz);
]]
local tv = ffi.new("timeval")
local function now_us()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000000 + tonumber(tv.tv_usec)
end

local threads = {}
function setup(thread)
  thread:set("index", #threads)
  threads[#threads + 1] = thread
end

local ids = {}
local cookie, position, stride = "", 0, 1
local sent_at, pause_ms = 0, 0
-- histogram["<status> <tenths of a millisecond>"] = responses (flat: wrk's thread:get
-- cannot copy nested tables)
histogram = {}
-- The first answer neither admitted nor shed, to tell what it was.
surprise = nil

function init(args)
  for line in io.lines(args[1]) do ids[#ids + 1] = line end
  cookie = args[3]
  stride = tonumber(args[4])
  position = tonumber(args[2]) + index
end

function request()
  local id = ids[(position % #ids) + 1]
  position = position + stride
  sent_at = now_us()
  return wrk.format("POST", "/api/orders",
    {["Content-Type"] = "application/json", ["Cookie"] = "session=" .. cookie},
    '{"ticketId":"' .. id .. '"}')
end

function delay()
  local wait = pause_ms
  pause_ms = 0
  return wait
end

function response(status, headers, body)
  if status ~= 201 and status ~= 503 and surprise == nil then
    surprise = status .. " " .. (body or "")
  end
  if status == 503 then
    pause_ms = 1000 * tonumber(headers["Retry-After"] or headers["retry-after"] or "1")
  end
  local key = status .. " " .. math.floor((now_us() - sent_at) / 100)
  histogram[key] = (histogram[key] or 0) + 1
end

-- Prints one line per status: "status <code> <count> <p50 ms> <p99 ms> <max ms>".
function done()
  local merged = {}
  for _, thread in ipairs(threads) do
    local odd = thread:get("surprise")
    if odd ~= nil then io.write("surprise ", odd, "\n") end
    for key, n in pairs(thread:get("histogram")) do
      local status, bucket = key:match("(%d+) (%d+)")
      local into = merged[status] or {}
      merged[status] = into
      bucket = tonumber(bucket)
      into[bucket] = (into[bucket] or 0) + n
    end
  end
  for key, counts in pairs(merged) do
    local buckets, total = {}, 0
    for bucket, n in pairs(counts) do
      buckets[#buckets + 1] = bucket
      total = total + n
    end
    table.sort(buckets)
    local function percentile(p)
      local seen = 0
      for _, bucket in ipairs(buckets) do
        seen = seen + counts[bucket]
        if seen >= p * total then return (bucket + 1) / 10 end
      end
      return 0
    end
    io.write(string.format("status %s %d %.1f %.1f %.1f\n", key, total, percentile(0.5),
      percentile(0.99), (buckets[#buckets] + 1) / 10))
  end
end
