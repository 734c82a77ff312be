-- A plain GET of the path given on the wrk command line (bench/edge.py).
local path = "/"
function init(args) path = args[1] or "/" end
function request() return wrk.format("GET", path) end
