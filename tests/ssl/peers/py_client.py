"""Python's ssl + asyncio client, a real peer for nogil's TLS server (tests/ssl/ssl_peers_test.cpp).

usage: py_client.py PORT CAFILE LINE  -- prints the answer line, then the TLS version.
"""
import asyncio
import ssl
import sys


async def main(port, cafile, line):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["http/1.1"])
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")
    writer.write(line.encode() + b"\n")
    await writer.drain()
    answer = await reader.readline()
    print(answer.decode().rstrip("\n"))
    print(writer.get_extra_info("ssl_object").version())
    writer.close()
    await writer.wait_closed()


asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
