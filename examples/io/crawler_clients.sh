#!/bin/sh
# examples/crawler fetching many URLs from examples/http_server (a separate process).
# usage: crawler_clients.sh PATH/TO/example_http_server PATH/TO/example_crawler
set -eu
. "$(dirname "$0")/start_server.sh"
start_server "$1" --serve 127.0.0.1 0
urls=""
i=0
while [ $i -lt 60 ]; do urls="$urls http://127.0.0.1:$port/bytes/$((i * 100))"; i=$((i + 1)); done
# Two that time out (the crawler's timeout is 0.5 s) and one refused.
urls="$urls http://127.0.0.1:$port/delay/3000 http://127.0.0.1:$port/delay/3000 http://127.0.0.1:1/"
# The crawler exits 2 when some URLs failed, as they must here.
status=0
timeout 60 "$2" --concurrency 8 --timeout 0.5 $urls > "$work/crawl" || status=$?
[ $status = 2 ] || fail "crawler exit status $status"
cat "$work/crawl"
grep -q "^fetched 60 of 63 URLs" "$work/crawl" || fail "expected 60 successes"
grep -q "^timed out: 2" "$work/crawl" || fail "expected 2 timeouts"
grep -q "^failed: 1" "$work/crawl" || fail "expected 1 refused connection"
stop_server
