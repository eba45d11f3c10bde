"""Who the live view's threads are spent on: every connection is *waiting* (TLS handshake,
request head, password check) until a request is let in, and a waiting connection is the only
kind a client without the password can hold.

So a client without the password cannot hold every slot (issue 37, case 3):
- a connection must be let in (handshake, request head, password) within HEAD_S of its start,
  or of its last request let in: a deadline for the whole of it, not a timeout per read that
  one byte every few seconds would renew;
- at most MAX_WAITING connections wait at once, below the MAX_CLIENTS threads in all; one more
  cuts the oldest waiting connection of the address that has the most waiting, so a client from
  another address always gets its turn, and a slot held by a viewer is never taken.
Cutting is a `shutdown()` of the socket from another thread: the thread blocked on it wakes at
once (end of file or an error) and ends as a dropped client does.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter

HEAD_S = 10.0  # seconds from a request's start (or the connection's, under TLS) to its last header
MAX_CLIENTS = 64  # connections served at once, one thread each
MAX_WAITING = 32  # of them, not yet let in


def cut(sock: socket.socket) -> None:
    """End `sock` under the thread that reads it (an SSLSocket too: its TCP socket)."""
    with contextlib.suppress(OSError):  # already closed by its own thread
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Doors:
    """The count of connections served and the deadlines of those waiting."""

    def __init__(self, max_clients: int = MAX_CLIENTS, max_waiting: int = MAX_WAITING):
        self.max_clients, self.max_waiting = max_clients, max_waiting
        self._lock = threading.Lock()
        self._served = 0
        self._waiting: dict[
            socket.socket, tuple[str, float]
        ] = {}  # → (address, deadline), oldest first

    def enter(self) -> bool:
        """A new connection: whether to serve it. When every slot is taken it is served still if
        a waiting connection can be cut for it (that thread ends within moments)."""
        with self._lock:
            victim = None
            if self._served >= self.max_clients:
                if not self._waiting:
                    return False  # every slot is a viewer's
                victim = self._pick()
            self._served += 1
        if victim is not None:
            cut(victim)
        return True

    def wait(self, sock: socket.socket, address: str) -> None:
        """`sock` starts a TLS handshake or a request: waiting, with HEAD_S to be let in from
        the first of them since it was last let in (a connection answered 401 does not get a
        new deadline with its next request)."""
        with self._lock:
            if sock not in self._waiting:
                self._waiting[sock] = (address, time.monotonic() + HEAD_S)
            victim = self._pick() if len(self._waiting) > self.max_waiting else None
        if victim is not None:
            cut(victim)

    def time_left(self, sock: socket.socket) -> float:
        """Seconds left to `sock`'s deadline (0 once it is past or `sock` was cut)."""
        with self._lock:
            entry = self._waiting.get(sock)
        return max(entry[1] - time.monotonic(), 0.0) if entry else 0.0

    def let_in(self, sock: socket.socket) -> None:
        """`sock`'s request passed the Host check and the password: no deadline now."""
        with self._lock:
            self._waiting.pop(sock, None)

    def leave(self, sock: socket.socket) -> None:
        """`sock`'s thread has ended."""
        with self._lock:
            self._waiting.pop(sock, None)
            self._served -= 1

    def cut_late(self) -> None:
        """Cut the waiting connections past their deadline (called a few times a second)."""
        now = time.monotonic()
        with self._lock:
            late = [s for s, (_, deadline) in self._waiting.items() if deadline <= now]
            for sock in late:
                del self._waiting[sock]
        for sock in late:
            cut(sock)

    def _pick(self) -> socket.socket:
        """Remove and return the oldest waiting connection of the address with the most."""
        counts = Counter(address for address, _ in self._waiting.values())
        busiest = counts.most_common(1)[0][0]
        sock = next(s for s, (address, _) in self._waiting.items() if address == busiest)
        del self._waiting[sock]
        return sock
