"""The blocking peers of CPython's start_tls tests (Lib/test/test_asyncio/test_sslproto.py,
BaseStartTLS), for nogil's EventLoop::start_tls (tests/ssl/loop_start_tls_test.cpp).

usage:
  py_starttls_peer.py serve SIZE CERTFILE KEYFILE
      test_start_tls_client_reg_proto_1's serve(): prints its port, accepts one connection,
      reads SIZE plain bytes, puts TLS on the socket (server side), sends b'O', reads SIZE
      bytes, then shuts the socket down and closes it.
  py_starttls_peer.py corrupt CERTFILE KEYFILE
      test_start_tls_client_corrupted_ssl's server(): prints its port, TLS at once (server
      side), sends b'A\\n', reads one byte, then writes plaintext garbage on the raw socket.
  py_starttls_peer.py client SIZE PORT CAFILE ANSWER
      test_start_tls_server_1's client(): connects, reads SIZE plain bytes, puts TLS on the
      socket (client side, checking "localhost"), sends SIZE bytes, reads len(ANSWER) bytes and
      prints them.
Exits 0 when its part went as the test expects, 1 otherwise (with the reason on stderr).
"""
import socket
import ssl
import sys


def recv_all(sock, n):
    buf = b""
    while len(buf) < n:
        data = sock.recv(n - len(buf))
        if not data:
            break
        buf += data
    return buf


def listen():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    print(srv.getsockname()[1], flush=True)
    return srv


def server_context(certfile, keyfile):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    return ctx


def serve(size, certfile, keyfile):
    srv = listen()
    sock, _ = srv.accept()
    sock.settimeout(30)
    assert len(recv_all(sock, size)) == size, "the plain bytes before the upgrade"
    sock = server_context(certfile, keyfile).wrap_socket(sock, server_side=True)
    sock.sendall(b"O")
    assert len(recv_all(sock, size)) == size, "the bytes after the upgrade"
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def corrupt(certfile, keyfile):
    srv = listen()
    raw, _ = srv.accept()
    raw.settimeout(30)
    orig = raw.dup()
    try:
        sock = server_context(certfile, keyfile).wrap_socket(raw, server_side=True)
        sock.sendall(b"A\n")
        recv_all(sock, 1)
        orig.send(b"please corrupt the SSL connection")
        # Wait until the client has closed, so that the garbage is read before any EOF.
        orig.settimeout(30)
        while orig.recv(4096):
            pass
    except (ssl.SSLError, ConnectionError):
        pass
    finally:
        orig.close()


def client(size, port, cafile, answer):
    ctx = ssl.create_default_context(cafile=cafile)
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    assert len(recv_all(sock, size)) == size, "the plain bytes before the upgrade"
    sock = ctx.wrap_socket(sock, server_hostname="localhost")
    sock.sendall(b"1" * size)
    got = recv_all(sock, len(answer))
    print(got.decode(), flush=True)
    sock.close()


mode = sys.argv[1]
try:
    if mode == "serve":
        serve(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    elif mode == "corrupt":
        corrupt(sys.argv[2], sys.argv[3])
    else:
        client(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
except AssertionError as e:
    print(f"py_starttls_peer {mode}: {e}", file=sys.stderr)
    sys.exit(1)
