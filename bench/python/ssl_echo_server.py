"""A TLS echo server on Python's asyncio (or uvloop), for bench/ssl_bench.cpp's server-side rows:
nogil's client drives it as it drives nogil's server, and the benchmark reads this process's CPU
time from /proc.

usage: ssl_echo_server.py CERT_DIR asyncio|uvloop  -- prints its port, serves until killed.
"""
import asyncio
import ssl
import sys

from ssl_anchor import echo  # the anchor's handler (this script's folder is on sys.path)


async def main(cert_dir):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(f"{cert_dir}/server.pem", f"{cert_dir}/server.key")
    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=ctx)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if sys.argv[2] == "uvloop":
    import uvloop
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # uvloop 0.17 has no uvloop.run
asyncio.run(main(sys.argv[1]))
