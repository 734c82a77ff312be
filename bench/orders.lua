-- wrk script: POST /api/orders, each request for the next ticket id of a file.
-- args: <ticket id file> <first index> <cookie>
local ids = {}
local next_index = 0
local cookie = ""

function init(args)
  for line in io.lines(args[1]) do ids[#ids + 1] = line end
  next_index = tonumber(args[2])
  cookie = args[3]
end

function request()
  local id = ids[(next_index % #ids) + 1]
  next_index = next_index + 1
  return wrk.format("POST", "/api/orders",
    {["Content-Type"] = "application/json", ["Cookie"] = "session=" .. cookie},
    '{"ticketId":"' .. id .. '"}')
end
