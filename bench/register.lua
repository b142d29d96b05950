-- wrk script: POST the reception registration form with a fresh phone number on every request.
--
--   BENCH_COOKIE=... BENCH_CSRF=... BENCH_BODY="csrf_token=...&name=...&consent=y" \
--       wrk -t2 -c16 -d10s --latency -s bench/register.lua http://127.0.0.1:5000/reception/register
--
-- Each thread numbers its own phones: BENCH_PHONE_PREFIX (default 195), the thread number (1-9)
-- and a 7-digit counter, so no two requests of one run register the same phone (the seeded
-- customers never use that prefix). BENCH_BODY is the url-encoded form without the phone; the
-- CSRF token goes both in the body and in the X-CSRFToken header. Success is a 303 to the new
-- client page; anything else (409 duplicate, 422 invalid form, 400 CSRF, 302 to the login page)
-- is counted, and done() prints "bench-unexpected: N" and "bench-statuses: 303=N,..." for bench/run.py.

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

counter = 0
unexpected = 0
statuses = {}

function init(args)
  prefix = os.getenv("BENCH_PHONE_PREFIX") or "195"
  form_body = os.getenv("BENCH_BODY") or ""
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE") or ""
  wrk.headers["X-CSRFToken"] = os.getenv("BENCH_CSRF") or ""
  wrk.headers["User-Agent"] = os.getenv("BENCH_UA") or "villa-bench"
  expect = tonumber(os.getenv("BENCH_EXPECT") or "303")
end

function request()
  counter = counter + 1
  local phone = string.format("%s%d%07d", prefix, (tid or 1) % 10, counter)
  return wrk.format(nil, nil, nil, form_body .. "&phone=" .. phone)
end

function response(status, headers, body)
  if status ~= expect then unexpected = unexpected + 1 end
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local total, merged = 0, {}
  for _, thread in ipairs(threads) do
    total = total + (thread:get("unexpected") or 0)
    for status, n in pairs(thread:get("statuses") or {}) do merged[status] = (merged[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(merged) do parts[#parts + 1] = status .. "=" .. n end
  table.sort(parts)
  io.write(string.format("bench-unexpected: %d\n", total))
  io.write("bench-statuses: " .. table.concat(parts, ",") .. "\n")
end
