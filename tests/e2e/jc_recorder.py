"""A recording HTTP proxy in front of the JumpCloud emulator, for spec conformance checks.

The providers run in the engine's provider process, out of the test's reach, so the test points
`jcqnap:jumpcloudApiUrl` at this proxy instead. It forwards every request unchanged (including each
retry attempt) with `requests`, answers with the emulator's response, and keeps each
`requests.Response` (its `.request` is the forwarded request with method, URL, headers and body),
which `tests.spec_validation` validates against the vendor spec.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


class Recorder:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.exchanges: list[requests.Response] = []
        self.lock = threading.Lock()
        self.session = requests.Session()

    def clear(self) -> None:
        with self.lock:
            self.exchanges.clear()


def _handler(rec: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            resp = rec.session.request(
                self.command, rec.upstream + self.path, data=body, headers=headers, timeout=60,
                allow_redirects=False,
            )
            with rec.lock:
                rec.exchanges.append(resp)
            self.send_response(resp.status_code)
            for k, v in resp.headers.items():
                if k.lower() not in HOP_HEADERS and k.lower() != "content-encoding":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(resp.content)))
            self.end_headers()
            self.wfile.write(resp.content)

        do_GET = do_POST = do_PUT = do_DELETE = _forward

    return Handler


@contextmanager
def recording_proxy(upstream_base: str) -> Iterator[tuple[str, Recorder]]:
    """Yields (proxy base URL, recorder). `upstream_base` is e.g. http://127.0.0.1:PORT (no /api)."""
    rec = Recorder(upstream_base)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", rec
    finally:
        server.shutdown()
        server.server_close()
