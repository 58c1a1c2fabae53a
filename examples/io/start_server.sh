# Sourced by the client tests: start_server BINARY ARGS... starts a server with --port-file in
# the background, waits (bounded) until it listens, and sets $port and $server_pid. The trap
# stops the server and removes the scratch directory whatever happens.
work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

start_server() {
    "$@" --port-file "$work/port" > "$work/server.log" 2>&1 &
    server_pid=$!
    i=0
    while [ ! -s "$work/port" ]; do
        i=$((i + 1))
        if [ $i -gt 200 ] || ! kill -0 "$server_pid" 2>/dev/null; then
            echo "server did not start:"; cat "$work/server.log"; exit 1
        fi
        sleep 0.05
    done
    port=$(cat "$work/port")
}

# Stops the server with SIGTERM and checks that it shut down cleanly (exit status 0).
stop_server() {
    kill -TERM "$server_pid"
    if ! wait "$server_pid"; then echo "server exited with an error:"; cat "$work/server.log"; exit 1; fi
    server_pid=
}

fail() { echo "FAILED: $*"; exit 1; }
