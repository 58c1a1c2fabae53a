#!/bin/sh
# examples/echo_server against real clients: socat, nc (netcat-openbsd) and Python 3's asyncio.
# usage: echo_server_clients.sh PATH/TO/example_echo_server
set -eu
. "$(dirname "$0")/start_server.sh"
start_server "$1" --serve 127.0.0.1 0

out=$(printf 'hello from socat\n' | timeout 10 socat -t 5 - "TCP:127.0.0.1:$port")
[ "$out" = "hello from socat" ] || fail "socat got '$out'"
echo "socat: ok"

out=$(printf 'hello from nc\n' | timeout 10 nc -N 127.0.0.1 "$port")
[ "$out" = "hello from nc" ] || fail "nc got '$out'"
echo "nc: ok"

timeout 30 python3 - "$port" <<'PY'
import asyncio, sys

async def client(port, n):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"line {n}.{i}\n".encode() for i in range(200)]
    for line in lines:
        writer.write(line)
    await writer.drain()
    for line in lines:
        got = await reader.readline()
        assert got == line, (got, line)
    blob = bytes(range(256)) * 4096  # 1 MiB, binary
    writer.write(blob)
    writer.write_eof()
    echoed = await reader.read()
    assert echoed == blob, len(echoed)
    writer.close()
    await writer.wait_closed()

async def main():
    await asyncio.gather(*(client(int(sys.argv[1]), n) for n in range(20)))
    print("python asyncio: ok")

asyncio.run(main())
PY
stop_server
