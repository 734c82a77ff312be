-- wrk script of the peer benchmark (bench/peer.py): every request places one order of one
-- ticket for a buyer of its own, through the system's own API, and done() prints one line
-- the harness reads: answers by kind and the latency percentiles.
-- args: pretix <orders path> <API token> <item id> <run tag>
--       ticketing <cookie file> <event id> <wrk threads>
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  threads[#threads + 1] = thread
end

local build, sold_out_text
sent, created, sold_out, other, sample = 0, 0, 0, 0, ""

-- pretix: its REST order creation with an API token, a new e-mail per order.
local function pretix(path, token, item, tag)
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Token " .. token}
  sold_out_text = "not enough quota available"
  return function()
    local body = string.format(
      '{"email":"fan-%s-%d-%d@example.com","locale":"en","sales_channel":"web",'
      .. '"payment_provider":"manual","send_email":false,"positions":[{"item":%s}]}',
      tag, id, sent, item)
    return wrk.format("POST", path, headers, body)
  end
end

-- ours: POST /api/orders for the event (no waiting room), buyers' session cookies in turn.
local function ticketing(cookie_file, event_id, stride)
  local cookies = {}
  for line in io.lines(cookie_file) do cookies[#cookies + 1] = line end
  sold_out_text = "Not enough tickets left"
  return function()
    -- Thread k takes buyers k, k + threads, k + 2 * threads, ...: no buyer in two threads.
    local cookie = cookies[((id + sent * tonumber(stride)) % #cookies) + 1]
    return wrk.format("POST", "/api/orders",
      {["Content-Type"] = "application/json", ["Cookie"] = "session=" .. cookie},
      '{"eventId":"' .. event_id .. '","quantity":1}')
  end
end

function init(args)
  local systems = {pretix = pretix, ticketing = ticketing}
  build = systems[args[1]](args[2], args[3], args[4], args[5])
end

function request()
  local built = build()
  sent = sent + 1
  return built
end

function response(status, _, body)
  if status == 201 then
    created = created + 1
  elseif status == 400 and body:find(sold_out_text, 1, true) then
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
