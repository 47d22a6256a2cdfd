-- wrk script for POST /echo: sends bench/echo-body.json (the same bytes the harness verifies with).
-- The harness sets BENCH_ECHO_BODY to the file's absolute path.
local path = os.getenv("BENCH_ECHO_BODY") or "bench/echo-body.json"
local file = assert(io.open(path, "rb"))
local body = file:read("*a")
file:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
