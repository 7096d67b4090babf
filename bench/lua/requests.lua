-- The requests of one wrk run, and its report as one JSON line (bench/generators.py).
--
--   wrk -s bench/lua/requests.lua URL -- METHOD PATH [PREFIX] [COUNT]
--
-- PATH may name {user}: replaced by PREFIX-THREAD-N, N counting this thread's
-- requests, so that every scheduling request of the run names a new user (PREFIX
-- is new for each run: a second run on the same database meets no known user).
-- PATH may name {id}: replaced by 1..COUNT in turn, each thread starting at its
-- own offset, so that GETs spread over every existing job.

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function init(args)
  method, template, prefix, count = args[1], args[2], args[3] or "run", tonumber(args[4] or "1")
  sent = 0
  per_user = template:find("{user}", 1, true) ~= nil
  per_id = template:find("{id}", 1, true) ~= nil
  fixed = wrk.format(method, template)
  -- Spread the threads' starting ids over the range (thread_number is set by setup).
  offset = ((thread_number or 1) - 1) * 7919
end

function request()
  sent = sent + 1
  if per_user then
    local user = prefix .. "-" .. thread_number .. "-" .. sent
    return wrk.format(method, (template:gsub("{user}", user)))
  elseif per_id then
    local id = tostring((offset + sent) % count + 1)
    return wrk.format(method, (template:gsub("{id}", id)))
  end
  return fixed
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_REPORT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "socket_errors": %d, "timeouts": %d, "status_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect + e.read + e.write, e.timeout, e.status))
end
