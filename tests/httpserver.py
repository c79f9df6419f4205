"""A real HTTP server on 127.0.0.1 for the tests that talk to the network.

Each path is routed to a ``Response`` (what to send, and how badly) or to a
function of the ``Request`` that returns one. Every request is recorded, and
the server keeps the peak number of requests it was handling at once, so tests
can assert on headers and on concurrency from the server's side.

    server = FeedServer().start()
    url = server.route("/feed.xml", body=b"<rss/>", headers={"ETag": '"v1"'})
    ...
    server.stop()

Use the ``feed_server`` fixture from ``conftest.py`` rather than starting one by hand.
"""

from __future__ import annotations

import contextlib
import gzip
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before the status line
    hang: bool = False  # accept the request, then never answer (until the server stops)
    gzip: bool = False  # gzip the body and send Content-Encoding: gzip
    drip: float = 0.0  # > 0: send the body one byte at a time, this many seconds apart
    content_length: bool = True  # False: no Content-Length; the body ends when the connection closes


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]  # names lower-cased

    @property
    def host(self) -> str:
        """The host name the client asked for (the Host header without the port)."""
        return urlsplit("//" + self.headers.get("host", "")).hostname or ""


Handler = Callable[[Request], Response]
_NOT_FOUND = Response(404, b"not found")


class FeedServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.requests: list[Request] = []  # in arrival order
        self.errors: list[Exception] = []  # exceptions raised by route functions
        self._routes: dict[str, Response | Handler] = {}
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._peak: dict[str, int] = {}
        self._in_flight_total = 0
        self._peak_total = 0
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FeedServer:
        handler = type("_BoundHandler", (_Handler,), {"feed_server": self})
        self._httpd = _Server((self.host, 0), handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; handlers that hang, wait or drip give up at once."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def url(self, path: str = "/", host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def route(self, path: str, response: Response | Handler | None = None, **spec) -> str:
        """Answer GET ``path`` with ``response`` (or ``Response(**spec)``); return its URL."""
        with self._lock:
            self._routes[path] = response if response is not None else Response(**spec)
        return self.url(path)

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    @property
    def peak_concurrency(self) -> int:
        """Most requests the server was handling at once (before answering), all hosts together."""
        with self._lock:
            return self._peak_total

    def peak_concurrency_for(self, host: str) -> int:
        """The same, counting only requests whose Host header names ``host``."""
        with self._lock:
            return self._peak.get(host, 0)

    def _receive(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
            route = self._routes.get(request.path, _NOT_FOUND)
        if isinstance(route, Response):
            return route
        try:
            return route(request)
        except Exception as exc:  # a bug in a test's route: report it at teardown
            with self._lock:
                self.errors.append(exc)
            return Response(500, b"route function raised")

    @contextlib.contextmanager
    def _handling(self, request: Request) -> Iterator[None]:
        # Counted until just before the answer is written: once the client has
        # the full response it may start its next request, which must not
        # overlap with this one in the count.
        with self._lock:
            self._in_flight_total += 1
            self._peak_total = max(self._peak_total, self._in_flight_total)
            count = self._in_flight[request.host] = self._in_flight.get(request.host, 0) + 1
            self._peak[request.host] = max(self._peak.get(request.host, 0), count)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight_total -= 1
                self._in_flight[request.host] -= 1


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops the SYNs of a burst of
    # connections, and the client only retries after a 1 s SYN timeout.
    request_queue_size = 128

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        # A client closing a kept-alive connection (or giving up) is routine here.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    feed_server: FeedServer  # set on the subclass made in FeedServer.start

    def do_GET(self) -> None:
        server = self.feed_server
        request = Request(self.path, {k.lower(): v for k, v in self.headers.items()})
        try:
            with server._handling(request):
                response = server._receive(request)
                if response.hang:
                    server._stopping.wait()
                    self.close_connection = True
                    return
                if response.delay and server._stopping.wait(response.delay):
                    self.close_connection = True
                    return
            self._send(response)
        except OSError:  # the client went away (timed out, cancelled): expected here
            self.close_connection = True

    def _send(self, response: Response) -> None:
        body = response.body
        headers = dict(response.headers)
        if response.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        self.send_response(response.status)
        for name, value in headers.items():
            self.send_header(name, value)
        names = {name.lower() for name in headers}
        has_body = response.status >= 200 and response.status not in (204, 304)
        if not response.content_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        elif has_body and "content-length" not in names:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not has_body:
            return
        if response.drip:
            for i in range(len(body)):
                if self.feed_server._stopping.wait(response.drip):
                    self.close_connection = True
                    return
                self.wfile.write(body[i : i + 1])
        else:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass
