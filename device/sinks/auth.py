"""Passwords for the live view: the `USER:HASH` file, HTTP Basic checks and the guess throttle.

The file holds salted PBKDF2-SHA256 hashes (``pbkdf2_sha256$ITERATIONS$SALT$HASH``, base64),
never a password. Hashing is slow on purpose, so a right password is hashed once and then known
by a digest of it (a watcher's page, stream and stats cost nothing more); a password not seen
yet is hashed on one thread, so guessing takes at most one core from the pipeline, and only in
its address's turn, which a wrong one holds for a delay that doubles (`Throttle`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import ipaddress
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .sink import SinkError

SCHEME = "pbkdf2_sha256"
ITERATIONS = 600_000  # OWASP's figure for PBKDF2-SHA256
REALM = "espcn-edge live view"

log = logging.getLogger(__name__)


def hash_password(password: str, iterations: int = ITERATIONS) -> str:
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    b64 = base64.b64encode
    return f"{SCHEME}${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def _verify(password: str, encoded: str) -> bool:
    _, iterations, salt, digest = encoded.split("$")
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    return hmac.compare_digest(got, base64.b64decode(digest))


def valid_user(user: str) -> bool:
    """A name for the file and for Basic: no colon, no spaces, nothing unprintable."""
    return bool(user) and ":" not in user and user.isprintable() and " " not in user


def read_users(path: Path) -> dict[str, str]:
    """USER → hash from `path` (blank lines and # comments skipped); one line of SinkError
    naming the file and the line when it cannot be used."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        raise SinkError(f"--view-auth {path}: cannot read ({reason})") from e
    users = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        user, _, encoded = line.partition(":")
        if not valid_user(user) or not _well_formed(encoded):
            raise SinkError(
                f"--view-auth {path}:{number}: not USER:{SCHEME}$ITERATIONS$SALT$HASH "
                "(write it with `espcn-edge passwd FILE USER`)"
            )
        users[user] = encoded
    if not users:
        raise SinkError(f"--view-auth {path}: no users (add one: `espcn-edge passwd FILE USER`)")
    return users


def warn_if_exposed(path: Path) -> None:
    """One warning when users other than the owner and group can read `path` (and guess its
    passwords offline) or change it (and let themselves in); the camera still starts."""
    mode = os.stat(path).st_mode & 0o777
    can = [verb for bit, verb in ((0o004, "read"), (0o002, "change")) if mode & bit]
    if can:
        log.warning(
            "--view-auth %s: every local user can %s it (mode %04o); run `chmod o-rwx %s`",
            path,
            " and ".join(can),
            mode,
            path,
        )


def _well_formed(encoded: str) -> bool:
    parts = encoded.split("$")
    if len(parts) != 4 or parts[0] != SCHEME or not parts[1].isdigit() or int(parts[1]) < 1:
        return False
    try:
        return all(base64.b64decode(p, validate=True) for p in parts[2:])
    except binascii.Error:
        return False


def basic_pair(header: str | None) -> tuple[str, str] | None:
    """(user, password) from an `Authorization: Basic …` value; None when absent or malformed
    (not Basic, not base64, not UTF-8, no colon), which is then a failed attempt like a wrong
    password, never an error."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:  # http.server hands headers over as latin-1 text: non-ASCII is a ValueError here
        decoded = base64.b64decode(token.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class Credentials:
    """Checks (user, password) pairs against the users of an auth file."""

    def __init__(self, users: dict[str, str]):
        self.users = users
        iterations = int(next(iter(users.values())).split("$")[1])
        self._dummy = hash_password(os.urandom(8).hex(), iterations)  # for unknown users
        self._verified: set[bytes] = set()  # digests of (user, password) pairs already checked
        self._lock = threading.Lock()
        # One thread hashes, at the pipeline's priority: guessing can take at most one core,
        # and a right password is not starved when the CPU is busy (issue 34, case 20).
        self._hasher = ThreadPoolExecutor(1, "view-auth")

    @classmethod
    def from_file(cls, path: Path) -> Credentials:
        return cls(read_users(path))

    @staticmethod
    def _key(pair: tuple[str, str]) -> bytes:
        return hashlib.sha256("\0".join(pair).encode()).digest()

    def known(self, pair: tuple[str, str]) -> bool:
        """Whether `pair` was verified before: no hashing, no throttle for a viewer let in."""
        with self._lock:
            return self._key(pair) in self._verified

    def verify(self, pair: tuple[str, str]) -> bool:
        """Hash and check `pair` (seconds of CPU). An unknown user costs the same hashing as a
        known one, so timing does not tell which users exist."""
        user, password = pair
        encoded = self.users.get(user, self._dummy)
        ok = self._hasher.submit(_verify, password, encoded).result() and user in self.users
        if ok:
            with self._lock:
                self._verified.add(self._key(pair))
        return ok


class Busy(Exception):
    """An address's turn to have a password checked did not come in time."""


@dataclass
class _Record:
    """One address: its turn (a lock) and its failures in a row."""

    turn: threading.Lock = field(default_factory=threading.Lock)
    failures: int = 0
    last: float = 0.0  # monotonic time of the last failure
    users: int = 0  # requests holding or waiting for the turn


class Throttle:
    """Password checks per client address, one at a time however many connections carry them,
    right passwords included: after the n-th failure in a row the answer, and the address's next
    check, wait BASE_S·2^(n-1) s, at most CAP_S, so an address tries at most one password per
    CAP_S + hashing time. Failures are forgotten FORGET_S after the last one, never by a right
    password (many users share an address behind NAT, and all of loopback is one address).
    IPv6 addresses count per /64, which one host can hold whole. The table keeps at most
    MAX_ADDRESSES idle records, the one quiet longest dropped first: O(1) a failure."""

    BASE_S, CAP_S, FORGET_S, MAX_ADDRESSES = 0.25, 4.0, 600.0, 4096

    def __init__(self, max_addresses: int = MAX_ADDRESSES):
        self.max_addresses = max_addresses
        self._lock = threading.Lock()
        self._records: OrderedDict[str, _Record] = OrderedDict()  # the quietest first

    def __len__(self) -> int:
        return len(self._records)

    @contextlib.contextmanager
    def turn(self, address: str, patience: float) -> Iterator[Callable[[], None]]:
        """Wait up to `patience` s for `address`'s turn (else Busy); inside, call the given
        `failed()` when the password was wrong: the turn is then held for the delay."""
        key = _address_key(address)
        with self._lock:
            record = self._records.setdefault(key, _Record())
            record.users += 1
        try:
            if not record.turn.acquire(timeout=max(patience, 0.0)):
                raise Busy(address)
            try:
                failed: list[bool] = []
                yield lambda: failed.append(True)
                if failed:
                    time.sleep(self._failed(key, record))
            finally:
                record.turn.release()
        finally:
            with self._lock:
                record.users -= 1
                if not record.users and not record.failures:
                    self._records.pop(key, None)

    def _failed(self, key: str, record: _Record) -> float:
        """Count a failure; the seconds to hold the turn."""
        with self._lock:
            now = time.monotonic()
            if now - record.last > self.FORGET_S:
                record.failures = 0
            record.failures, record.last = record.failures + 1, now
            self._records.move_to_end(key)
            self._prune(now)
            return min(self.BASE_S * 2 ** min(record.failures - 1, 32), self.CAP_S)

    def _prune(self, now: float) -> None:
        """Drop the quietest idle records while over the bound or forgotten; one in use moves to
        the end (at most one per connection, so this ends)."""
        for _ in range(len(self._records)):
            key, record = next(iter(self._records.items()))
            if len(self._records) <= self.max_addresses and now - record.last <= self.FORGET_S:
                return
            if record.users:
                self._records.move_to_end(key)
            else:
                del self._records[key]


def _address_key(address: str) -> str:
    """An IPv4 address as is; an IPv6 one as its /64."""
    if ":" not in address:
        return address
    return str(ipaddress.ip_network(f"{address}/64", strict=False))
