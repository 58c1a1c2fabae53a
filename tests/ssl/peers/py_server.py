"""Python's ssl + asyncio server, a real peer for nogil's TLS client (tests/ssl/ssl_peers_test.cpp).

usage: py_server.py CERTFILE KEYFILE  -- prints its port, answers one connection's lines with
"python: LINE" until the client closes, then exits.
"""
import asyncio
import ssl
import sys


async def main(certfile, keyfile):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    done = asyncio.get_running_loop().create_future()

    async def handle(reader, writer):
        while line := await reader.readline():
            writer.write(b"python: " + line)
            await writer.drain()
        writer.close()
        await writer.wait_closed()
        done.set_result(None)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    print(server.sockets[0].getsockname()[1], flush=True)
    await done
    server.close()
    await server.wait_closed()


asyncio.run(main(sys.argv[1], sys.argv[2]))
