-- wrk script of the peer benchmark (bench/peer.py), our side: every request reserves one
-- ticket of the event (POST /api/orders, no waiting room) for a buyer of its own, taken in
-- turn from a file of session cookies, and done() prints one line the harness reads:
-- answers by kind and the latency percentiles (as bench/peer_pretix.lua does).
-- args: <cookie file> <event id> <wrk threads>
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  threads[#threads + 1] = thread
end

local cookies = {}
local event_id, stride
sent, created, sold_out, other, sample = 0, 0, 0, 0, ""

function init(args)
  for line in io.lines(args[1]) do cookies[#cookies + 1] = line end
  event_id, stride = args[2], tonumber(args[3])
end

function request()
  -- Thread k takes buyers k, k + threads, k + 2 * threads, ...: no buyer in two threads.
  local cookie = cookies[((id + sent * stride) % #cookies) + 1]
  sent = sent + 1
  return wrk.format("POST", "/api/orders",
    {["Content-Type"] = "application/json", ["Cookie"] = "session=" .. cookie},
    '{"eventId":"' .. event_id .. '","quantity":1}')
end

function response(status, _, body)
  if status == 201 then
    created = created + 1
  elseif status == 400 and body:find("Not enough tickets left", 1, true) then
    sold_out = sold_out + 1
  else
    other = other + 1
    if sample == "" then sample = status .. " " .. body:sub(1, 200):gsub("%s+", " ") end
  end
end

function done(summary, latency)
  local c, s, o, first = 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    c, s, o = c + thread:get("created"), s + thread:get("sold_out"), o + thread:get("other")
    if first == "" then first = thread:get("sample") end
  end
  local e = summary.errors
  io.write(string.format(
    "peer-result requests=%d created=%d sold_out=%d other=%d p50_us=%d p99_us=%d "
    .. "duration_us=%d socket_errors=%d timeouts=%d\n", summary.requests, c, s, o,
    latency:percentile(50), latency:percentile(99), summary.duration,
    e.connect + e.read + e.write, e.timeout))
  io.write("peer-sample ", first, "\n")
end
