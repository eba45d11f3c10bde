"""Passwords for the live view: the `USER:HASH` file, HTTP Basic checks and the guess throttle.

The file holds salted PBKDF2-SHA256 hashes (``pbkdf2_sha256$ITERATIONS$SALT$HASH``, base64),
never a password. Hashing is slow on purpose, so a right password is hashed once and then known
by a digest of it (a watcher's page, stream and stats cost nothing more); a password not seen
yet is hashed on one thread of the lowest CPU priority, so guessing takes no CPU from the
pipeline, and a wrong one is answered only after a delay that doubles per client address
(`Throttle`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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


def _lowest_priority() -> None:
    """Nice 19 for the calling thread (Linux keeps a nice value per thread; elsewhere it would
    be the whole process's, so leave it)."""
    if sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


class Credentials:
    """Checks `Authorization: Basic …` values against the users of an auth file."""

    def __init__(self, users: dict[str, str]):
        self.users = users
        iterations = int(next(iter(users.values())).split("$")[1])
        self._dummy = hash_password(os.urandom(8).hex(), iterations)  # for unknown users
        self._verified: set[bytes] = set()  # digests of (user, password) pairs already checked
        self._lock = threading.Lock()
        self._hasher = ThreadPoolExecutor(1, "view-auth", initializer=_lowest_priority)

    @classmethod
    def from_file(cls, path: Path) -> Credentials:
        return cls(read_users(path))

    def check(self, header: str | None) -> bool:
        """Whether `header` carries a listed user's password. An unknown user costs the same
        hashing as a known one, so timing does not tell which users exist."""
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        key = hashlib.sha256(f"{user}\0{password}".encode()).digest()
        with self._lock:
            if key in self._verified:
                return True
        encoded = self.users.get(user, self._dummy)
        ok = self._hasher.submit(_verify, password, encoded).result() and bool(sep)
        if ok:
            with self._lock:
                self._verified.add(key)
        return ok


class Throttle:
    """Delays for failed attempts, per client address: BASE_S, doubling up to CAP_S, queued
    one after another (parallel guesses from one address wait their turn); forgotten after a
    right password from that address or FORGET_S without a failure."""

    BASE_S, CAP_S, FORGET_S = 0.25, 4.0, 600.0

    def __init__(self):
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}  # address → (count, answer due at)

    def failed(self, address: str) -> float:
        """Records a failed attempt; the seconds to hold its answer from now."""
        with self._lock:
            now = time.monotonic()
            count, due = self._failures.get(address, (0, now))
            if now - due > self.FORGET_S:
                count = 0
            due = max(due, now) + min(self.BASE_S * 2**count, self.CAP_S)
            self._failures[address] = (count + 1, due)
            if len(self._failures) > 4096:  # many addresses: drop the ones long quiet
                self._failures = {
                    a: v for a, v in self._failures.items() if now - v[1] <= self.FORGET_S
                }
        return due - now

    def forgive(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)
