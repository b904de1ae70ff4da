-- wrk script: every request carries one header (BENCH_HEADER) whose value is
-- picked at random from the lines of the file BENCH_VALUES, so the load
-- spreads over many sessions or tokens instead of one.
local name = os.getenv("BENCH_HEADER")
local values = {}
for line in io.lines(os.getenv("BENCH_VALUES")) do
  values[#values + 1] = line
end

function init(args)
  -- Each wrk thread has its own Lua state; seed them apart.
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  wrk.headers[name] = values[math.random(#values)]
  return wrk.format()
end
