"""Crafted requests, no login needed: malformed headers, NUL bytes, CRLF injection and oversize lines
are refused (or answered) without ending a gunicorn worker. A worker that dies mid-request is booted
again by the master, so the proof is that the workers are the same processes afterwards and that the
server's log shows no worker leaving or booting while the requests ran."""

import socket
import time
from pathlib import Path

import pytest

CRAFTED = {
    "duplicate Content-Type": (
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Type: text/plain\r\nContent-Length: 3\r\n\r\na=b"
    ),
    "duplicate Content-Type on a GET": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n"
    ),
    "duplicate Content-Length": (
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\na=b"
    ),
    "header without a colon": b"GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
    "CRLF in the path": b"GET /%0d%0aSet-Cookie:%20evil=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    "bare CR in a header": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Test: a\rSet-Cookie: evil=1\r\n\r\n",
    "bare LF in a header": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Test: a\nSet-Cookie: evil=1\r\n\r\n",
    "header folding": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Test: a\r\n folded\r\n\r\n",
    "NUL in the path": b"GET /customers/\x00abc HTTP/1.1\r\nHost: x\r\n\r\n",
    "encoded NUL in the path": b"GET /customers/%00abc HTTP/1.1\r\nHost: x\r\n\r\n",
    "NUL in a header": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Test: a\x00b\r\n\r\n",
    "NUL in a header name": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-\x00Test: a\r\n\r\n",
    "oversize request line": b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "oversize header": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n",
    "too many headers": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % n for n in range(300)) + b"\r\n"
    ),
    "no method": b" / HTTP/1.1\r\nHost: x\r\n\r\n",
    "garbage method": b"G\x00ET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad protocol": b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
    "no path": b"GET HTTP/1.1\r\nHost: x\r\n\r\n",
    "absolute URI without path": b"GET http://x HTTP/1.1\r\nHost: x\r\n\r\n",
    "chunked and length": (
        b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"
    ),
    "bad chunk size": b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
    "non-UTF-8 path": b"GET /customers/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    "correction link with a duplicate Content-Type": (
        b"GET /c/abc HTTP/1.1\r\nHost: x\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n"
    ),
}


def _send(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return answer


def _workers(master_pid: int) -> set[int]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    return {int(pid) for pid in children.read_text().split()}


def _log_since(server, offset: int) -> str:
    return server.logs[-1].read_bytes()[offset:].decode(errors="replace")


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the workers from /proc")
def test_crafted_requests_leave_every_worker_alive(server):
    master = server.process.pid
    before = _workers(master)
    assert len(before) == server.workers, before
    offset = server.logs[-1].stat().st_size
    answers = {}
    for name, raw in CRAFTED.items():
        for _ in range(3):  # more than once: each worker sees some
            answer = _send(server.port, raw)
        answers[name] = answer.split(b"\r\n", 1)[0]
    time.sleep(0.5)  # a worker's death is noticed by the master within its timeout tick
    log = _log_since(server, offset)
    assert "Worker exiting" not in log and "Booting worker" not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert _workers(master) == before, f"workers replaced: {before} -> {_workers(master)}"
    assert server.client().get("/healthz").status == 200
    # Nothing crafted is answered as a success, and nothing is a 500.
    for name, status_line in answers.items():
        assert not status_line.startswith(b"HTTP/1.1 5"), f"{name}: {status_line!r}"


def test_access_log_never_holds_a_correction_token(servers):
    # On the proxy-trusting server, from an address of its own: the link pages' limit is per address.
    server = servers.get("proxy")
    offset = server.logs[-1].stat().st_size
    token = "Zm9yZ2VkLXRva2VuLXNlY3JldA"
    for path in (f"/c/{token}", f"//c/{token}", f"/c/{token}?x=1"):
        server.client().get(path, headers={"X-Forwarded-For": "203.0.113.70"})
    raw = f"GET /c/{token} HTTP/1.1\r\nHost: x\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n"
    _send(server.port, raw.encode())
    time.sleep(0.3)
    log = _log_since(server, offset)
    assert "/c/[token]" in log
    assert token not in log, log[-2000:]
