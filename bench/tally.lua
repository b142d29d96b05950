-- Shared by get.lua and register.lua (loaded with dofile): number the threads, keep the session
-- cookie as a browser would, count each answer's status, and have done() print
-- "bench-unexpected: N" and "bench-statuses: 200=N,..." for bench/run.py. The loading script sets
-- `expect`, the status that counts as success, in init(), and `keep_session = false` when the
-- cookies the server sends back are not to be kept.

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

unexpected = 0
statuses = {}

-- Like a browser, keep the session cookie the server sends back. The server stamps the session
-- with the time it was last used (the idle timeout) at most every 30 s; a client that replayed the
-- login's cookie would have its session stamped and signed again on every request, which no
-- browser's request costs.
local function keep_cookie(headers)
  local sent = headers["Set-Cookie"] or headers["set-cookie"]
  local held = wrk.headers["Cookie"]
  if not sent or not held or #held == 0 then return end
  local name, value = sent:match("^%s*([^=;]+)=([^;]*)")
  if not name or #value == 0 then return end -- a cookie being deleted is not held
  local pairs_held, replaced = {}, false
  for pair in held:gmatch("[^;]+") do
    pair = pair:match("^%s*(.-)%s*$")
    if pair:match("^([^=]+)=") == name then
      pair, replaced = name .. "=" .. value, true
    end
    pairs_held[#pairs_held + 1] = pair
  end
  if not replaced then pairs_held[#pairs_held + 1] = name .. "=" .. value end
  wrk.headers["Cookie"] = table.concat(pairs_held, "; ")
end

function response(status, headers, body)
  if keep_session ~= false then keep_cookie(headers) end
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
