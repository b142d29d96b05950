-- wrk script: GET a rotating list of paths as a logged-in user, counting unexpected statuses.
--
--   BENCH_COOKIE="villa_session=..." BENCH_EXPECT=200 wrk -t2 -c16 -d10s --latency \
--       -s bench/get.lua http://127.0.0.1:5000/ -- /tmp/paths.txt
--
-- The paths file holds one path per line (e.g. /customers/123); without it wrk's URL path is used.
-- Environment: BENCH_COOKIE (the session cookie header, empty for anonymous), BENCH_UA (must be
-- the User-Agent the session logged in with: Flask-Login ties the session to it), BENCH_EXPECT
-- (the status that counts as success, default 200), BENCH_HX=1 to send HX-Request like htmx.
-- done() prints "bench-unexpected: N" and "bench-statuses: 200=N,..." for bench/run.py.

-- setup(), response() and done(): the counting both scripts share, next to this file.
dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "tally.lua")

paths = {}
position = 0

function init(args)
  if args[1] then
    for line in io.lines(args[1]) do
      if #line > 0 then paths[#paths + 1] = line end
    end
  end
  if #paths == 0 then paths[1] = wrk.path end
  position = ((tid or 1) - 1) * 7919 -- threads start at different places in the list
  local cookie = os.getenv("BENCH_COOKIE") or ""
  if #cookie > 0 then wrk.headers["Cookie"] = cookie end
  wrk.headers["User-Agent"] = os.getenv("BENCH_UA") or "villa-bench"
  if os.getenv("BENCH_HX") == "1" then wrk.headers["HX-Request"] = "true" end
  expect = tonumber(os.getenv("BENCH_EXPECT") or "200")
end

function request()
  position = position + 1
  return wrk.format("GET", paths[position % #paths + 1])
end
