#!/bin/sh
# examples/http_server's time limits and framing checks against real peers (socat and Python
# sockets): a duplicated Content-Length gets 400; a body that never arrives, a header block
# trickled byte by byte (slowloris) and a client that never reads its response are each cut
# off (the server's fd count is back to its baseline); SIGTERM with a client that does not
# read still ends the server within its grace period.
# usage: http_server_limits.sh PATH/TO/example_http_server
set -eu
. "$(dirname "$0")/start_server.sh"
start_server "$1" --serve 127.0.0.1 0 --request-timeout 1 --response-timeout 1 --grace 1

for lengths in 'Content-Length: 4\r\nContent-Length: 5' 'Content-Length: 4\r\nContent-Length: 4' 'Content-Length: 4, 4'; do
    out=$(printf "POST /echo HTTP/1.1\r\nHost: x\r\n$lengths\r\n\r\n" | timeout 10 socat -t 5 - "TCP:127.0.0.1:$port" | head -1)
    case "$out" in "HTTP/1.1 400 "*) ;; *) fail "duplicate Content-Length ($lengths): got '$out'" ;; esac
done
echo "socat: duplicate Content-Length -> 400: ok"

# Each stalled client below must see its connection ended by the server, and the server's
# open fds must return to what they were before it connected.
timeout 60 python3 - "$port" "$server_pid" <<'PY'
import os, socket, sys, time

port, pid = int(sys.argv[1]), int(sys.argv[2])

def server_fds():
    return len(os.listdir(f"/proc/{pid}/fd"))

def wait_fds(baseline, what):
    deadline = time.monotonic() + 20
    while server_fds() > baseline:
        if time.monotonic() > deadline:
            sys.exit(f"FAILED: {what}: server holds {server_fds()} fds, baseline {baseline}")
        time.sleep(0.05)

def wait_accepted(baseline, what):
    deadline = time.monotonic() + 20
    while server_fds() <= baseline:
        if time.monotonic() > deadline:
            sys.exit(f"FAILED: {what}: the server never accepted the connection")
        time.sleep(0.01)

def ended_by_server(s, what):
    s.settimeout(20)
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        sys.exit(f"FAILED: {what}: the server never ended the connection")

baseline = server_fds()

# A body that never arrives: headers promise 100 bytes, 2 come.
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
ended_by_server(s, "body that never arrives")
s.close()
wait_fds(baseline, "body that never arrives")
print("body that never arrives: cut off: ok")

# Slowloris: one header byte every 50 ms, never finishing the header block.
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(0.05)
ended = False
for i in range(400):
    try:
        s.send(b"GET / HTTP/1.1\r\nX-Slow: " if i == 0 else b"a")
        if s.recv(1) == b"":
            ended = True
            break
    except socket.timeout:
        continue
    except (ConnectionResetError, BrokenPipeError):
        ended = True
        break
if not ended:
    sys.exit("FAILED: slowloris: the connection was still open after 20 s of trickled headers")
s.close()
wait_fds(baseline, "slowloris")
print("slowloris on headers: cut off: ok")

# A client that never reads a 10 MB response (small receive buffer): aborted.
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
s.sendall(b"GET /bytes/10000000 HTTP/1.1\r\nHost: x\r\n\r\n")
wait_accepted(baseline, "client that never reads")
wait_fds(baseline, "client that never reads")
s.close()
print("client that never reads: aborted: ok")
PY
stop_server

# SIGTERM while a client does not read its response: the server still exits, after its grace
# period (the response limit is long here, so that it is the shutdown that ends the client).
rm -f "$work/port"
start_server "$1" --serve 127.0.0.1 0 --grace 1
python3 - "$port" "$work/ready" <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /bytes/10000000 HTTP/1.1\r\nHost: x\r\n\r\n")
open(sys.argv[2], "w").close()
time.sleep(30)
PY
client_pid=$!
i=0
while [ ! -e "$work/ready" ]; do i=$((i + 1)); [ $i -lt 200 ] || fail "client did not connect"; sleep 0.05; done
kill -TERM "$server_pid"
status=0
timeout 20 sh -c "while kill -0 $server_pid 2>/dev/null; do sleep 0.05; done" || status=$?
kill "$client_pid" 2>/dev/null || true
[ $status = 0 ] || fail "the server did not exit within 20 s of SIGTERM"
wait "$server_pid" || fail "server exit status $?"
server_pid=
grep -q "grace period over" "$work/server.log" || { cat "$work/server.log"; fail "no abort after the grace period"; }
echo "SIGTERM with a client that does not read: exited after the grace period: ok"
