-- wrk script: POST the reception registration form with a fresh phone number on every request.
--
--   BENCH_COOKIE=... BENCH_CSRF=... BENCH_BODY="csrf_token=...&name=...&consent=y" \
--       wrk -t2 -c16 -d10s --latency -s bench/register.lua http://127.0.0.1:5000/reception/register
--
-- Each thread numbers its own phones: BENCH_PHONE_PREFIX (default 195), the thread number (1-9)
-- and a 7-digit counter from BENCH_PHONE_START (default 0), so no two requests of one run register
-- the same phone (the seeded customers never use that prefix). BENCH_BODY is the url-encoded form without the phone; the
-- CSRF token goes both in the body and in the X-CSRFToken header. Success is a 303 to the new
-- client page; anything else (409 duplicate, 422 invalid form, 400 CSRF, 302 to the login page)
-- is counted, and done() prints "bench-unexpected: N" and "bench-statuses: 303=N,..." for bench/run.py.

-- setup(), response() and done(): the counting both scripts share, next to this file.
dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "tally.lua")

function init(args)
  counter = tonumber(os.getenv("BENCH_PHONE_START") or "0")
  prefix = os.getenv("BENCH_PHONE_PREFIX") or "195"
  form_body = os.getenv("BENCH_BODY") or ""
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE") or ""
  wrk.headers["X-CSRFToken"] = os.getenv("BENCH_CSRF") or ""
  wrk.headers["User-Agent"] = os.getenv("BENCH_UA") or "villa-bench"
  expect = tonumber(os.getenv("BENCH_EXPECT") or "303")
  -- Each answer's cookie carries the flash the new client page shows ("registered …"). A browser
  -- follows the redirect and that page takes the flash out of the session; wrk does not follow
  -- it, so kept cookies would pile up every flash of the run (2,000 in 10 s: a session of 600 kB
  -- unpacked, read and written again by every later request). Every POST goes with the session
  -- the run started with, as a browser's does after its redirect.
  keep_session = false
end

function request()
  counter = counter + 1
  local phone = string.format("%s%d%07d", prefix, (tid or 1) % 10, counter)
  return wrk.format(nil, nil, nil, form_body .. "&phone=" .. phone)
end
