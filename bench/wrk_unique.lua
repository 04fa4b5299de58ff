-- wrk script for the load-generator check (bench/ingest.py --compare-wrk):
-- POST a JSON message with a unique id on every request, like bench/loadgen.py does.
--   wrk -t2 -c32 -d5s -s bench/wrk_unique.lua http://127.0.0.1:PORT/api/v1/channels/bench/messages
local counter = 0
local threads = 0
thread_id = 0 -- set per thread by setup()

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer bench-token"
end

function request()
  counter = counter + 1
  local body = '{"id":"wrk-' .. thread_id .. '-' .. counter .. '","sender":{"email":"kunde.'
    .. counter .. '@example.de","name":"Erika Mustermann"},'
    .. '"text":"Hallo, meine Rechnung ist falsch, bitte pruefen Sie das Konto. Danke fuer Ihre Hilfe."}'
  return wrk.format(nil, nil, nil, body)
end
