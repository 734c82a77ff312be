-- wrk script: POST /api/orders for one ticket of an event, buyers taken in turn from a
-- file of session cookies (each buyer's limit is the event's).
-- args: <cookie file> <event id>
local cookies = {}
local next_index = 0
local event_id = ""

function init(args)
  for line in io.lines(args[1]) do cookies[#cookies + 1] = line end
  event_id = args[2]
end

function request()
  local cookie = cookies[(next_index % #cookies) + 1]
  next_index = next_index + 1
  return wrk.format("POST", "/api/orders",
    {["Content-Type"] = "application/json", ["Cookie"] = "session=" .. cookie},
    '{"eventId":"' .. event_id .. '","quantity":1}')
end
