#!/bin/sh
# Echo benchmark: nogil streams vs a hand-written epoll loop vs Python asyncio (and uvloop).
# Server pinned to one core, load generator to another (taskset); 1 and 100 connections,
# 64 B and 1 KiB messages; each run DURATION seconds after a 0.5 s warm-up.
#
#   bench/echo/run.sh [BUILD_DIR=build/release] [DURATION=3]
# Needs: a release build of example_echo_server (built here), g++, taskset, python3,
# python3-uvloop (Debian). Prints one line per run and a Markdown table at the end.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
duration=${2:-3}
here=$root/bench/echo
work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cmake --build "$build" --target example_echo_server > /dev/null
c++ -O2 -std=c++20 -o "$work/loadgen" "$here/loadgen.cpp"
c++ -O2 -std=c++20 -o "$work/raw_epoll_echo" "$here/raw_epoll_echo.cpp"
python=${PYTHON:-/usr/bin/python3}  # Debian's, where python3-uvloop is installed
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}

start() {  # start NAME COMMAND... : launches the server on $server_cpu, waits for its port
    rm -f "$work/port"
    name=$1
    shift
    taskset -c "$server_cpu" "$@" > "$work/$name.log" 2>&1 &
    server_pid=$!
    i=0
    while [ ! -s "$work/port" ]; do
        i=$((i + 1))
        [ $i -le 200 ] || { echo "$name did not start"; cat "$work/$name.log"; exit 1; }
        sleep 0.05
    done
    port=$(cat "$work/port")
}

stop() {
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

printf '%-10s %s\n' server result > "$work/results"
for server in nogil raw_epoll python_asyncio python_uvloop; do
    for conns in 1 100; do
        for size in 64 1024; do
            case $server in
                nogil) start nogil "$build/examples/example_echo_server" --serve 127.0.0.1 0 --port-file "$work/port" ;;
                raw_epoll) start raw "$work/raw_epoll_echo" 0 --port-file "$work/port" ;;
                python_asyncio) start py "$python" "$here/py_echo_server.py" 0 "$work/port" ;;
                python_uvloop) start uv "$python" "$here/py_echo_server.py" 0 "$work/port" --uvloop ;;
            esac
            line=$(taskset -c "$client_cpu" "$work/loadgen" 127.0.0.1 "$port" --conns $conns --size $size \
                   --duration "$duration" --server-pid "$server_pid")
            stop
            printf '%-15s %s\n' "$server" "$line" | tee -a "$work/results"
        done
    done
done

echo
echo "| server | conns | size | msgs/s | p50 µs | p99 µs | server CPU µs/msg |"
echo "|---|---:|---:|---:|---:|---:|---:|"
sed 1d "$work/results" | sed -E 's/^([a-z_]+) +conns=([0-9]+) size=([0-9]+) msgs_per_s=([0-9]+) p50_us=([0-9.]+) p99_us=([0-9.]+) server_cpu_us_per_msg=([0-9.na\/]+)/| \1 | \2 | \3 | \4 | \5 | \6 | \7 |/'
