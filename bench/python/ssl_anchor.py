"""The Python anchor of bench/ssl_bench.cpp: TLS echo and TLS handshakes on asyncio streams,
with asyncio's loop and with uvloop, client and server in one loop, as the C++ side does.

usage: ssl_anchor.py CERT_DIR [--json]   (CERT_DIR: from tests/ssl/make_certs.sh)
Prints one JSON line: seconds per echoed message (100 connections x 1 KiB) and per handshake,
wall-clock ("..._s") and the process's CPU time ("..._cpu_s": fairer on a loaded machine, since
client and server share one thread here as in the C++ benchmark).
"""
import asyncio
import json
import ssl
import sys
import time

CONNS = 100
SIZE = 1024
ROUNDS = 20
HANDSHAKES = 200


def contexts(cert_dir):
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(f"{cert_dir}/server.pem", f"{cert_dir}/server.key")
    client = ssl.create_default_context(cafile=f"{cert_dir}/ca.pem")
    return server, client


async def echo(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


async def connect(port, client_ctx):
    return await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx, server_hostname="localhost")


async def rounds(reader, writer, n):
    message = b"x" * SIZE
    for _ in range(n):
        writer.write(message)
        await reader.readexactly(SIZE)


async def echo_seconds_per_message(cert_dir):
    """100 connections made first (not timed), then each echoes ROUNDS messages of 1 KiB."""
    server_ctx, client_ctx = contexts(cert_dir)
    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    conns = await asyncio.gather(*(connect(port, client_ctx) for _ in range(CONNS)))
    await asyncio.gather(*(rounds(r, w, 1) for r, w in conns))  # warm-up
    best = best_cpu = float("inf")
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(rounds(r, w, ROUNDS) for r, w in conns))
        best = min(best, (time.perf_counter() - t0) / (CONNS * ROUNDS))
        best_cpu = min(best_cpu, (time.process_time() - c0) / (CONNS * ROUNDS))
    for _, w in conns:
        w.close()
    await asyncio.gather(*(w.wait_closed() for _, w in conns), return_exceptions=True)
    server.close()
    await server.wait_closed()
    return best, best_cpu


async def handshake_seconds(cert_dir):
    server_ctx, client_ctx = contexts(cert_dir)
    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    best = best_cpu = float("inf")
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(HANDSHAKES):
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx, server_hostname="localhost")
            writer.close()
            await writer.wait_closed()
        best = min(best, (time.perf_counter() - t0) / HANDSHAKES)
        best_cpu = min(best_cpu, (time.process_time() - c0) / HANDSHAKES)
    server.close()
    await server.wait_closed()
    return best, best_cpu


def main():
    cert_dir = sys.argv[1]
    out = {}

    def run(prefix):
        out[f"{prefix}_echo_s"], out[f"{prefix}_echo_cpu_s"] = asyncio.run(echo_seconds_per_message(cert_dir))
        out[f"{prefix}_handshake_s"], out[f"{prefix}_handshake_cpu_s"] = asyncio.run(handshake_seconds(cert_dir))

    run("asyncio")
    try:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # uvloop 0.17 has no uvloop.run
        run("uvloop")
    except ImportError:
        pass
    print(json.dumps(out))

if __name__ == "__main__":
    main()
