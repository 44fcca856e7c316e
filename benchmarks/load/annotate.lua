-- One wrk thread per annotator (wrk -t N -c N): each keeps its own session and loops
-- "GET the annotate page, POST a judgment of the pair it shows". The main thread hands each one
-- its session and CSRF cookies from ANNOTATE_LOAD_CLIENTS (a file, one "session csrf" per line)
-- and writes the counts and latency percentiles to ANNOTATE_LOAD_RESULT as JSON.
local clients, threads, counter = {}, {}, 0
local slug = os.getenv("ANNOTATE_LOAD_SLUG") or "load"

function setup(thread)
  if #clients == 0 then
    for line in io.lines(os.getenv("ANNOTATE_LOAD_CLIENTS")) do
      local session, csrf = line:match("(%S+) (%S+)")
      table.insert(clients, {session, csrf})
    end
  end
  counter = counter + 1
  local client = clients[counter]
  thread:set("session", client[1])
  thread:set("csrf", client[2])
  table.insert(threads, thread)
end

local assignment, posting = nil, false
pages, page_errors, submits, submit_errors, dry = 0, 0, 0, 0, 0

function init(args)
  cookie = "sessionid=" .. session .. "; csrftoken=" .. csrf
end

function request()
  if assignment then
    posting = true
    local body = "csrfmiddlewaretoken=" .. csrf .. "&choice=left&strength=2&reason=&seconds_spent=2.5"
    return wrk.format("POST", "/p/" .. slug .. "/annotate/" .. assignment .. "/", {
      ["Cookie"] = cookie,
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, body)
  end
  posting = false
  return wrk.format("GET", "/p/" .. slug .. "/annotate/", {["Cookie"] = cookie})
end

function response(status, headers, body)
  if posting then
    assignment = nil
    if status == 302 then submits = submits + 1 else submit_errors = submit_errors + 1 end
    return
  end
  if status ~= 200 then
    page_errors = page_errors + 1
    return
  end
  pages = pages + 1
  assignment = body:match('id="judgment%-form"%s+action="/p/[^/]+/annotate/(%d+)/"')
  if not assignment then dry = dry + 1 end
end

function done(summary, latency, requests)
  local total = {pages = 0, page_errors = 0, submits = 0, submit_errors = 0, dry = 0}
  for _, thread in ipairs(threads) do
    for key, _ in pairs(total) do total[key] = total[key] + thread:get(key) end
  end
  local errors = summary.errors
  local out = io.open(os.getenv("ANNOTATE_LOAD_RESULT"), "w")
  out:write(string.format(
    '{"requests": %d, "seconds": %.3f, "pages": %d, "page_errors": %d, "submits": %d, ' ..
    '"submit_errors": %d, "dry": %d, "socket_errors": %d, "timeouts": %d, ' ..
    '"p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}',
    summary.requests, summary.duration / 1e6, total.pages, total.page_errors, total.submits,
    total.submit_errors, total.dry, errors.connect + errors.read + errors.write, errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
  out:close()
end
