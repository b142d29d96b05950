-- Shared by get.lua and register.lua (loaded with dofile): number the threads, count each answer's
-- status, and have done() print "bench-unexpected: N" and "bench-statuses: 200=N,..." for
-- bench/run.py. The loading script sets `expect`, the status that counts as success, in init().

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

unexpected = 0
statuses = {}

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
