-- wrk script of the peer benchmark (bench/peer.py), pretix's side: every request places
-- one order of one ticket through pretix's REST API, for a buyer (e-mail) of its own, and
-- done() prints one line the harness reads: answers by kind and the latency percentiles.
-- args: <orders path> <API token> <item id> <run tag>
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  threads[#threads + 1] = thread
end

local path, headers, item, tag
sent, created, sold_out, other, sample = 0, 0, 0, 0, ""

function init(args)
  path, item, tag = args[1], args[3], args[4]
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Token " .. args[2]}
end

function request()
  sent = sent + 1
  local body = string.format(
    '{"email":"fan-%s-%d-%d@example.com","locale":"en","sales_channel":"web",'
    .. '"payment_provider":"manual","send_email":false,"positions":[{"item":%s}]}',
    tag, id, sent, item)
  return wrk.format("POST", path, headers, body)
end

function response(status, _, body)
  if status == 201 then
    created = created + 1
  elseif status == 400 and body:find("not enough quota available", 1, true) then
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
