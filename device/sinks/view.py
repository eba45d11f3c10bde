"""`--view HOST:PORT`: a browser live view on the standard library's threading HTTP server.

Three fixed routes and nothing else (no files are served, so no path can reach the disk):
``/`` the page, ``/stream.mjpg`` the MJPEG stream (multipart/x-mixed-replace) and
``/stats.json`` the live statistics. Each frame is encoded once, only while someone watches,
by the view's own thread (so the pipeline never waits for a watcher, though the encoding shares
the CPU with it: see docs/device.md) and shared by every client; each client thread sends the
newest frame when it is ready for one, so a slow client skips frames and a vanished one ends its
own thread (noticed between frames too, so a low frame rate does not keep its slot).
Bounded under load: at most MAX_CLIENTS connections at once, each holding at most one frame; a
request head of at most MAX_HEAD bytes; and (doors.py) a connection let in, TLS handshake and
password included, within HEAD_S of its start, at most MAX_WAITING not let in at once, so clients
without the password cannot hold every slot; a client that stalls a read or a write for
CLIENT_TIMEOUT seconds is dropped.
Guarded (guard.py): a loopback view answers only its own Host names; with a password every
route asks for it, checked in turn per client address and a wrong one answered late (auth.py);
with TLS the handshake is made by the client's own thread. Nothing a client sends makes the
server write a traceback, and its log lines about clients are rate-limited (`LogLimit`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import ssl
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from espcn_edge.frames import Result

from ..stats import Stats
from . import page
from .auth import REALM, Busy, Throttle, basic_pair
from .doors import MAX_CLIENTS, Doors
from .guard import Guard, allowed_hosts, is_loopback, security_headers
from .jpeg import encode_planes, view_planes
from .sink import Sink, SinkError

log = logging.getLogger(__name__)

BOUNDARY = "espcnframe"
CLIENT_TIMEOUT = 10.0  # seconds a client may stall a frame (or a read) before it is dropped
MAX_HEAD = 32 * 1024  # bytes of request line and headers: a browser sends 0.5-8 kB
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 5\r\nRetry-After: 1\r\nX-Content-Type-Options: nosniff\r\n"
    b"Connection: close\r\n\r\nbusy\n"
)


def parse_address(text: str) -> tuple[str, int]:
    """'HOST:PORT' or ':PORT' or 'PORT' → (host, port); the host defaults to 127.0.0.1."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SinkError(f"--view {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8000")
    return host, int(port)


def multipart(jpeg: bytes) -> bytes:
    """One part of the MJPEG stream, built once per frame and sent by every client as is."""
    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return head.encode() + jpeg + b"\r\n"


class HeadTooLarge(Exception):
    """A request line and headers over MAX_HEAD bytes."""


class HeadReader:
    """The connection's reader, allowing `budget` bytes of request head per request: the
    standard library's own limits (64 kB a line, 100 headers) let one unauthenticated request
    hold 6.4 MB, and a few dozen of them half a Pi's memory (issue 37, case 1)."""

    def __init__(self, raw):
        self.raw, self.left = raw, MAX_HEAD

    def budget(self, size: int) -> None:
        self.left = size

    def readline(self, size: int = -1) -> bytes:
        limit = self.left + 1 if size < 0 else min(size, self.left + 1)
        line = self.raw.readline(limit)
        self.left -= len(line)
        if self.left < 0:
            raise HeadTooLarge
        return line

    def close(self) -> None:
        self.raw.close()


class LogLimit:
    """At most `lines` log lines a `period` about clients; then one saying how many were left
    out, so no client can fill an SD card with them (issue 37, case 4)."""

    def __init__(self, lines: int = 10, period: float = 60.0):
        self.lines, self.period = lines, period
        self._lock = threading.Lock()
        self._start, self._count = -period, 0

    def log(self, level: int, fmt: str, *args) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._start >= self.period:
                if self._count > self.lines:
                    log.warning("live view: %d more such lines left out", self._count - self.lines)
                self._start, self._count = now, 0
            self._count += 1
            if self._count > self.lines:
                return
        log.log(level, fmt, *args)


class FrameHub:
    """The newest item (a result to encode, or a part to send) with a sequence number that
    readers wait on; `clients` counts the stream clients reading it."""

    def __init__(self):
        self.cond = threading.Condition()
        self.item = None
        self.seq = 0
        self.clients = 0
        self.closed = False

    def publish(self, item) -> None:
        with self.cond:
            self.item, self.seq = item, self.seq + 1
            self.cond.notify_all()

    def wait_newer(self, seq: int, timeout: float = 1.0) -> tuple[int, object]:
        """(the newest seq, its item) once newer than `seq`, else (seq, None) after `timeout`."""
        with self.cond:
            self.cond.wait_for(lambda: self.seq > seq or self.closed, timeout)
            return self.seq, self.item if self.seq > seq else None

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = CLIENT_TIMEOUT  # on every read and write, so no client holds a thread forever
    default_request_version = "HTTP/1.0"  # so a request line without one still gets a status

    def log_message(self, fmt, *args):  # route the access log to logging, not stderr
        log.debug("%s " + fmt, self.address_string(), *args)

    def version_string(self) -> str:
        return "espcn-edge"  # no versions for an attacker to look up

    def setup(self):
        super().setup()  # sets the per-read timeout
        self.rfile = HeadReader(self.rfile)
        self.server.doors.wait(self.connection, self.client_address[0])
        if isinstance(self.connection, ssl.SSLSocket):  # within the head's deadline
            self.connection.do_handshake()

    def handle_one_request(self):
        """One request, its head read within MAX_HEAD bytes; waiting until it is let in."""
        self.rfile.budget(MAX_HEAD)
        self.server.doors.wait(self.connection, self.client_address[0])
        self.command, self.requestline = None, ""  # what an error before the parse reports
        self.request_version = self.default_request_version
        try:
            super().handle_one_request()
        except HeadTooLarge:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)

    def send_error(self, code, message=None, explain=None):
        """Every error the standard library answers (400, 414, 431, 501, 505…): our plain page
        and headers, then close (what follows a bad request cannot be trusted)."""
        status = HTTPStatus(code)
        self.close_connection = True
        body = f"{status.value} {status.phrase}\n".encode()
        self._send(status, "text/plain; charset=utf-8", body, {"Connection": "close"})

    def end_headers(self):
        for name, value in security_headers(tls=self.server.guard.tls is not None).items():
            self.send_header(name, value)
        super().end_headers()

    def do_GET(self):
        if not self._admitted():
            return
        try:
            path = urlsplit(self.path).path
        except ValueError:  # e.g. "http://[x/": not a URL
            self.send_error(HTTPStatus.BAD_REQUEST)
            return
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, "text/html; charset=utf-8", self.server.page)
        elif path == "/stats.json":
            body = json.dumps(self.server.stats.snapshot()).encode()
            self._send(HTTPStatus.OK, "application/json", body)
        elif path == "/stream.mjpg":
            self._stream()
        else:
            self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n")

    def do_HEAD(self):
        if self._admitted():
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, "text/plain", b"")

    def _admitted(self) -> bool:
        """Whether to serve this request (then it is let in: no deadline, no longer counted as
        waiting); if not, it has been answered (421, 401) or dropped."""
        server = self.server
        if server.hosts is not None and self.headers.get("Host", "").lower() not in server.hosts:
            self._send(HTTPStatus.MISDIRECTED_REQUEST, "text/plain", b"unknown Host\n")
            return False
        if server.guard.credentials is None or self._logged_in():
            server.doors.let_in(self.connection)
            return True
        return False

    def _logged_in(self) -> bool:
        """Whether the request carries a listed user's password; if not, it has been answered
        (401: at once on a first visit, after the address's delay for a guess) or dropped (its
        address's turn did not come before the request's deadline)."""
        server, credentials = self.server, self.server.guard.credentials
        header, address = self.headers.get("Authorization"), self.client_address[0]
        pair = basic_pair(header)
        if pair is not None and credentials.known(pair):
            return True
        if header is not None:  # a password to check: in this address's turn
            try:
                with server.throttle.turn(
                    address, server.doors.time_left(self.connection)
                ) as failed:
                    if pair is not None and credentials.verify(pair):
                        return True
                    failed()
            except Busy:
                self.close_connection = True
                return False
            server.log_limit.log(logging.WARNING, "live view: wrong password from %s", address)
        challenge = {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'}
        self._send(HTTPStatus.UNAUTHORIZED, "text/plain", b"password needed\n", challenge)
        return False

    def _send(self, status, ctype: str, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _stream(self) -> None:
        hub = self.server.hub
        self.close_connection = True
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        with hub.cond:
            hub.clients += 1
        seq = 0
        try:
            while not hub.closed:
                seq, part = hub.wait_newer(seq, timeout=0.2)
                if part is not None:
                    self.wfile.write(part)
                elif self._client_closed():  # between slow frames: free the slot now
                    break
        except OSError as e:  # client went away or stalled past CLIENT_TIMEOUT
            log.debug("stream client %s left: %s", self.address_string(), e)
        finally:
            with hub.cond:
                hub.clients -= 1

    def _client_closed(self) -> bool:
        """True once the client has closed its end (a browser tab gone): at a low frame rate
        the next write, which would tell, may be seconds away, and the slot is held till then."""
        readable, _, _ = select.select([self.connection], [], [], 0)
        try:
            # under TLS too: a peek at the TCP bytes (an SSLSocket's own recv takes no flags)
            return bool(readable) and socket.socket.recv(self.connection, 1, socket.MSG_PEEK) == b""
        except OSError:  # reset
            return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = MAX_CLIENTS  # listen backlog: a burst of connects is not refused

    def __init__(self, address, hub: FrameHub, stats: Stats, page_html: bytes, guard: Guard):
        self.hub, self.stats, self.page, self.guard = hub, stats, page_html, guard
        self.doors = Doors()
        self.throttle = Throttle()
        self.log_limit = LogLimit()
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)
        host, port = self.server_address[:2]
        self.hosts = allowed_hosts(host, port) if is_loopback(host) else None

    def process_request(self, request, client_address):
        """One thread per connection while the doors let it in; beyond, a 503 from the
        accepting thread (a small write to a fresh socket, so it cannot block) and close."""
        if not self.doors.enter():
            if self.guard.tls is None:  # a TLS client could not read it
                with contextlib.suppress(OSError):
                    request.send(BUSY)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.doors.leave(request)
            raise

    def process_request_thread(self, request, client_address):
        """The connection's thread; its slot given back however it ends (a TLS handshake that
        fails raises in the handler's setup(), after which no finish() is called)."""
        try:
            if self.guard.tls is not None:  # the handshake itself: in the handler's setup()
                request = self.guard.tls.wrap_socket(
                    request, server_side=True, do_handshake_on_connect=False
                )
            super().process_request_thread(request, client_address)
        finally:
            self.doors.leave(request)

    def service_actions(self):
        """Between accepts (every poll interval): cut the requests past their deadline."""
        self.doors.cut_late()

    def handle_error(self, request, client_address):
        """A client that resets, stalls or is cut is routine for a live view: a debug line.
        Anything else is a bug: one line (no traceback a client could repeat), rate-limited."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            log.debug("client %s: %s", client_address[0], error)
        else:
            self.log_limit.log(
                logging.ERROR, "live view: error serving %s: %r", client_address[0], error
            )


class ViewSink(Sink):
    """Serves the live view on `address` (host, port); port 0 picks a free one (see `url`)."""

    def __init__(
        self,
        address: tuple[str, int],
        stats: Stats,
        scale: int = 2,
        compare: bool = False,
        guard: Guard | None = None,
    ):
        self.address = address
        self.guard = guard or Guard()  # open, plain HTTP
        self.stats = stats
        self.scale = scale
        self.compare = compare
        self.hub = FrameHub()  # encoded parts, for the clients
        self._results = FrameHub()  # results to encode, for the encoder thread
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2] if self._server else self.address
        host = f"[{host}]" if ":" in host else host  # IPv6
        return f"{'https' if self.guard.tls else 'http'}://{host}:{port}/"

    def start(self) -> None:
        try:
            self._server = _Server(
                self.address,
                self.hub,
                self.stats,
                page.render(self.scale, self.compare),
                self.guard,
            )
        except OSError as e:
            raise SinkError(
                f"--view {self.address[0]}:{self.address[1]}: cannot listen ({e.strerror or e})"
            ) from e
        threading.Thread(
            target=self._server.serve_forever,
            name="view",
            kwargs={"poll_interval": 0.2},
            daemon=True,
        ).start()
        threading.Thread(target=self._encode, name="view-encode", daemon=True).start()
        log.info("live view on %s", self.url)

    def output(self, result: Result) -> None:
        if self.hub.clients == 0 and self.hub.item is not None:
            return  # nobody watching: keep the last frame, spend nothing
        self._results.publish(result)

    def _encode(self) -> None:
        """Encodes the newest result (skipping any that came meanwhile) for the clients."""
        seq = 0
        while not self._results.closed:
            seq, result = self._results.wait_newer(seq)
            if result is not None:
                t0 = time.perf_counter()
                self.hub.publish(multipart(encode_planes(*view_planes(result, self.compare))))
                self.stats.add_stage("jpeg", (time.perf_counter() - t0) * 1e3)

    def stop(self) -> None:
        self._results.close()
        self.hub.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
