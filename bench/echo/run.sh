#!/bin/sh
# Echo benchmark: nogil streams (on epoll and on io_uring) vs hand-written epoll and io_uring
# servers, Boost.Asio on io_uring, Python asyncio and uvloop. Server pinned to one core, load
# generator to another (taskset); 1 and 100 connections, 64 B and 1 KiB messages; each run
# DURATION seconds after a 0.5 s warm-up. Then (STRACE=1, the default) each row once more with
# the server under `strace -f -c`, for its system calls per message (strace slows the server,
# so that pass's throughput is not reported; a batching server batches more under it).
#
#   bench/echo/run.sh [BUILD_DIR=build/release] [DURATION=3]
#   SERVERS="nogil_epoll nogil_io_uring" bench/echo/run.sh   # a subset
# Needs: a release build of example_echo_server (built here), g++, liburing-dev,
# libboost1.81-dev, taskset, strace, python3, python3-uvloop (Debian). Prints one line per run
# and a Markdown table at the end, with the load average at the start and end of each run.
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
c++ -O2 -std=c++20 -o "$work/raw_io_uring_echo" "$here/raw_io_uring_echo.cpp" -luring
c++ -O2 -std=c++20 -o "$work/asio_echo" "$here/asio_echo.cpp" -luring -pthread
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

stop_traced() {  # the server under strace: end the traced server (strace's child), then strace
    child=$(pgrep -P "$server_pid" | head -n 1)
    [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

load() { cut -d' ' -f1 /proc/loadavg; }

launch() {  # launch SERVER [WRAPPER...]: starts SERVER's echo server on $server_cpu
    server=$1
    shift
    case $server in
        nogil_epoll) start nogil env NOGIL_ASYNCIO_BACKEND=epoll "$@" "$build/examples/example_echo_server" --serve 127.0.0.1 0 --port-file "$work/port" ;;
        nogil_io_uring) start nogil env NOGIL_ASYNCIO_BACKEND=io_uring "$@" "$build/examples/example_echo_server" --serve 127.0.0.1 0 --port-file "$work/port" ;;
        raw_epoll) start raw "$@" "$work/raw_epoll_echo" 0 --port-file "$work/port" ;;
        raw_io_uring) start raw_uring "$@" "$work/raw_io_uring_echo" 0 --port-file "$work/port" ;;
        asio_io_uring) start asio "$@" "$work/asio_echo" 0 --port-file "$work/port" ;;
        python_asyncio) start py "$@" "$python" "$here/py_echo_server.py" 0 "$work/port" ;;
        python_uvloop) start uv "$@" "$python" "$here/py_echo_server.py" 0 "$work/port" --uvloop ;;
    esac
}

: > "$work/results"
servers=${SERVERS:-nogil_epoll nogil_io_uring raw_epoll raw_io_uring asio_io_uring python_asyncio python_uvloop}
for server in $servers; do
    for conns in 1 100; do
        for size in 64 1024; do
            before=$(load)
            launch $server
            line=$(taskset -c "$client_cpu" "$work/loadgen" 127.0.0.1 "$port" --conns $conns --size $size \
                   --duration "$duration" --server-pid "$server_pid")
            stop
            syscalls=n/a
            if [ "${STRACE:-1}" = 1 ]; then
                # strace -c writes its table when the traced server exits (stop_traced ends it).
                launch $server strace -f -c -o "$work/strace.out"
                sline=$(taskset -c "$client_cpu" "$work/loadgen" 127.0.0.1 "$port" --conns $conns --size $size \
                        --duration "$duration" --warmup 0)
                stop_traced
                msgs=$(echo "$sline" | sed -E 's/.*msgs_per_s=([0-9]+).*/\1/')
                calls=$(awk '/total$/ {print $4}' "$work/strace.out" 2>/dev/null)
                [ -n "$calls" ] && [ "$msgs" -gt 0 ] && syscalls=$(awk -v c="$calls" -v m="$msgs" -v d="$duration" 'BEGIN {printf "%.2f", c / (m * d)}')
            fi
            printf '%-15s %s syscalls_per_msg=%s load=%s-%s\n' "$server" "$line" "$syscalls" "$before" "$(load)" | tee -a "$work/results"
        done
    done
done

echo
echo "| server | conns | size | msgs/s | p50 µs | p99 µs | server CPU µs/msg | syscalls/msg | load avg |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
sed -E 's/^([a-z_]+) +conns=([0-9]+) size=([0-9]+) msgs_per_s=([0-9]+) p50_us=([0-9.]+) p99_us=([0-9.]+) server_cpu_us_per_msg=([0-9.na\/]+) syscalls_per_msg=([0-9.na\/]+) load=(.*)/| \1 | \2 | \3 | \4 | \5 | \6 | \7 | \8 | \9 |/' "$work/results"
