#!/bin/sh
# examples/http_server against curl (status, body, keep-alive reuse) and a bounded wrk load.
# usage: http_server_clients.sh PATH/TO/example_http_server
set -eu
. "$(dirname "$0")/start_server.sh"
start_server "$1" --serve 127.0.0.1 0
url="http://127.0.0.1:$port"

code=$(curl -s -o "$work/body" -w '%{http_code}' "$url/")
[ "$code" = 200 ] || fail "status $code"
[ "$(cat "$work/body")" = "Hello, nogil!" ] || fail "body '$(cat "$work/body")'"
echo "curl status and body: ok"

[ "$(curl -s -X POST --data-binary 'posted body' "$url/echo")" = "posted body" ] || fail "POST /echo"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/missing")" = 404 ] || fail "404"
echo "curl POST and 404: ok"

# Two URLs in one curl run share one connection when keep-alive works.
curl -sv "$url/" "$url/bytes/10" > /dev/null 2> "$work/verbose"
grep -q "Re-using existing connection" "$work/verbose" || { cat "$work/verbose"; fail "no keep-alive reuse"; }
echo "curl keep-alive reuse: ok"

if [ "${NOGIL_SKIP_WRK:-}" = 1 ]; then echo "wrk: skipped (sanitizer build)"; stop_server; exit 0; fi
wrk -t1 -c20 -d2s "$url/" > "$work/wrk" 2>&1 || { cat "$work/wrk"; fail "wrk failed"; }
cat "$work/wrk"
grep -q "Socket errors" "$work/wrk" && fail "wrk saw socket errors"
grep -q "Non-2xx" "$work/wrk" && fail "wrk saw non-2xx responses"
grep -Eq "^ +[1-9][0-9]* requests in" "$work/wrk" || fail "wrk made no requests"
echo "wrk: ok, zero socket errors"
stop_server
