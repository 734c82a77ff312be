-- wrk script of the on-sale benchmark (bench/onsale.py): each wrk thread has one
-- connection and plays its share of the buyers, interleaved, each buyer arriving at its
-- own moment. With one connection a response always answers the thread's last request,
-- so each buyer's flow is a small state machine:
--   queue mode:  join the event's queue -> ask for the place (backing off) until let in
--                -> reserve with the admission token; or the queue says sold out
--   direct mode: reserve at once (no queue)
-- A shed request (503) is retried after its Retry-After (1 s). Each thread writes one line
-- per buyer, and one per request's latency, to <out dir>/<thread>.txt (every 5 s, and once
-- more, headed "complete", when its buyers are done).
-- args: <cookie file> <event id> <mode> <start epoch ms> <spread ms> <out dir> <threads>

local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_usec; } timeval;
  int gettimeofday(timeval *tv, void *tz);
]]
local tv = ffi.new("timeval")
local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + math.floor(tonumber(tv.tv_usec) / 1000)
end

local counter = 0
function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
end

local buyers = {}
local event_id, mode, out_dir
local current, sent_at, cursor = nil, 0, 1
local latencies = {}
local finished, written = 0, false

function init(args)
  math.randomseed(index + 1)
  local threads = tonumber(args[7])
  local start, spread = tonumber(args[4]), tonumber(args[5])
  event_id, mode, out_dir = args[2], args[3], args[6]
  local cookies = {}
  for line in io.lines(args[1]) do cookies[#cookies + 1] = line end
  for n = 1, #cookies do
    if (n - 1) % threads == index then
      buyers[#buyers + 1] = {n = n, cookie = cookies[n], due = start + math.floor(
        (n - 1) * spread / #cookies), arrived = start + math.floor((n - 1) * spread / #cookies),
        step = (mode == "queue") and "join" or "reserve", shed = 0}
    end
  end
end

local function next_due(at)
  local count = #buyers
  for k = 0, count - 1 do
    local buyer = buyers[((cursor + k - 1) % count) + 1]
    if buyer.step ~= "done" and buyer.due <= at then
      cursor = ((cursor + k) % count) + 1
      return buyer
    end
  end
  return nil
end

function delay()
  local at = now_ms()
  local soonest = nil
  for _, buyer in ipairs(buyers) do
    if buyer.step ~= "done" and (soonest == nil or buyer.due < soonest) then
      soonest = buyer.due
    end
  end
  if soonest == nil then return 1000 end
  return math.max(0, math.min(1000, soonest - at))
end

local function jitter()
  return 1 + math.random() * 0.3
end

local function headers(buyer)
  return {["Content-Type"] = "application/json", ["Cookie"] = "session=" .. buyer.cookie}
end

function request()
  local at = now_ms()
  current = next_due(at)
  sent_at = at
  if current == nil then return wrk.format("GET", "/healthz") end
  local path = "/api/queue/" .. event_id
  if current.step == "join" then
    return wrk.format("POST", path, headers(current), "")
  elseif current.step == "ask" then
    return wrk.format("GET", path, headers(current))
  end
  local body = '{"eventId":"' .. event_id .. '","quantity":1'
  if current.token then body = body .. ',"admission":"' .. current.token .. '"' end
  return wrk.format("POST", "/api/orders", headers(current), body .. "}")
end

local function finish(buyer, outcome, at)
  buyer.step, buyer.outcome, buyer.done_at = "done", outcome, at
  finished = finished + 1
end

local last_write = 0
local function write_out(state)
  local file = io.open(out_dir .. "/" .. index .. ".txt", "w")
  file:write(state, "\n")
  for _, b in ipairs(buyers) do
    file:write(string.format("buyer %d %d %s %s %s %d %s %s\n", b.n, b.arrived,
      tostring(b.rank or "-"), tostring(b.admitted_at or "-"), b.outcome or "unanswered",
      b.shed, tostring(b.done_at or "-"), tostring(b.joined_at or "-")))
  end
  for _, entry in ipairs(latencies) do file:write("latency ", entry, "\n") end
  file:close()
  written = state == "complete"
end

function response(status, _, body)
  local at = now_ms()
  local buyer = current
  if buyer == nil then return end
  latencies[#latencies + 1] = (at - sent_at) .. " " .. status
  if status == 503 then
    -- Retry-After says 1 s; a crowd that all comes back after exactly 1 s is shed again,
    -- so each buyer backs off (doubling, at most 8 s) with some jitter, as browsers would.
    buyer.shed = buyer.shed + 1
    buyer.due = at + math.min(8000, 1000 * 2 ^ math.min(buyer.shed - 1, 3)) * jitter()
  elseif buyer.step == "reserve" then
    if status == 201 then finish(buyer, "bought", at)
    elseif body:find("Not enough tickets left", 1, true) then finish(buyer, "sold_out", at)
    else finish(buyer, "refused_" .. status, at) end
  elseif status ~= 200 then
    finish(buyer, "queue_error_" .. status, at)
  else
    buyer.joined_at = buyer.joined_at or at  -- when the queue took the arrival in
    local state = body:match('"state":"([%w_]+)"')
    buyer.rank = tonumber(body:match('"rank":(%d+)')) or buyer.rank
    if state == "admitted" then
      buyer.token = body:match('"admissionToken":"([^"]+)"')
      buyer.admitted_at = buyer.admitted_at or at
      buyer.step, buyer.due = "reserve", at
    elseif state == "sold_out" then
      finish(buyer, "sold_out", at)
    elseif state == "lapsed" then
      buyer.step, buyer.due = "join", at
    else
      -- Ask again when the estimated wait is over (between 1 and 30 seconds, jittered);
      -- before the opening, within 5 seconds after it (the page itself would listen to
      -- the live stream instead of asking).
      local wait = tonumber(body:match('"waitSeconds":(%d+)')) or 2
      buyer.step = "ask"
      if buyer.rank == nil then
        buyer.due = at + wait * 1000 + math.random() * 5000
      else
        buyer.due = at + math.max(1000, math.min(30000, wait * 1000)) * jitter()
      end
    end
  end
  if finished == #buyers and not written then
    write_out("complete")
  elseif not written and at - last_write > 5000 then
    last_write = at
    write_out("partial")  -- what the harness reads if the run gives up first
  end
end
