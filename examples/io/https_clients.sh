#!/bin/sh
# examples/http_server over HTTPS (--tls-cert/--tls-key) against curl and examples/crawler.
# usage: https_clients.sh PATH/TO/example_http_server PATH/TO/example_crawler PATH/TO/make_certs.sh
set -eu
. "$(dirname "$0")/start_server.sh"
sh "$3" "$work/certs"
certs=$work/certs
start_server "$1" --serve 127.0.0.1 0 --tls-cert "$certs/server.pem" --tls-key "$certs/server.key"
grep -q "serving HTTPS" "$work/server.log" || fail "the server does not say HTTPS"
url=https://localhost:$port
# curl verifies our certificate against the test CA, for the name "localhost" (SNI).
curl_tls() { curl --silent --show-error --max-time 20 --cacert "$certs/ca.pem" --resolve "localhost:$port:127.0.0.1" "$@"; }

[ "$(curl_tls "$url/")" = "Hello, nogil!" ] || fail "GET / over HTTPS"
[ "$(curl_tls --data-binary ping "$url/echo")" = "ping" ] || fail "POST /echo over HTTPS"
[ "$(curl_tls "$url/bytes/1000000" | wc -c)" = 1000000 ] || fail "1 MB over HTTPS"
# keep-alive: two requests on one TLS connection
[ "$(curl_tls "$url/" "$url/bytes/3")" = "Hello, nogil!
xxx" ] || fail "two requests on one connection"

# TLS 1.3 by default, ALPN: curl offers h2 and http/1.1; the server picks http/1.1.
curl_tls -v -o /dev/null "$url/" 2> "$work/curl.log"
cat "$work/curl.log" | grep -E "SSL connection|ALPN" || true
grep -q "SSL connection using TLSv1.3" "$work/curl.log" || fail "not TLS 1.3"
grep -qi "ALPN.*server accepted.*http/1.1" "$work/curl.log" || fail "ALPN http/1.1 not negotiated"
[ "$(curl_tls -o /dev/null -w '%{http_version}' "$url/")" = "1.1" ] || fail "HTTP version"

# A client that does not trust the certificate fails, and the server keeps serving.
if curl --silent --max-time 20 --resolve "localhost:$port:127.0.0.1" "$url/" > /dev/null 2>&1; then
    fail "curl trusted an unknown CA"
fi
# Plain HTTP to the HTTPS port: the connection is closed, the server keeps serving.
curl --silent --max-time 20 "http://127.0.0.1:$port/" > /dev/null 2>&1 || true
[ "$(curl_tls "$url/")" = "Hello, nogil!" ] || fail "the server stopped serving"

# The crawler fetches over https from the same server (trusting the test CA).
urls=""
i=0
while [ $i -lt 30 ]; do urls="$urls https://localhost:$port/bytes/$((i * 100))"; i=$((i + 1)); done
timeout 60 "$2" --concurrency 8 --timeout 10 --cafile "$certs/ca.pem" $urls > "$work/crawl" || fail "crawler failed: $(cat "$work/crawl")"
cat "$work/crawl"
grep -q "^fetched 30 of 30 URLs, 43500 bytes" "$work/crawl" || fail "expected 30 https fetches"
# Without the CA, every https fetch fails verification.
status=0
timeout 60 "$2" --timeout 10 "https://localhost:$port/" > "$work/crawl2" || status=$?
[ $status = 2 ] || fail "crawler trusted an unknown CA (status $status)"
grep -q "certificate verify failed" "$work/crawl2" || fail "no verification error: $(cat "$work/crawl2")"
stop_server
echo "https clients ok"
