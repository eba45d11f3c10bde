"""`espcn-edge passwd FILE USER`: add or change a live-view user in a `--view-auth` file.

The password is asked twice on the terminal, or read as one line from stdin when that is not
a terminal (echo "$PASS" | espcn-edge passwd …); the file keeps only its salted hash and is
written atomically. A new file is 0600; an existing one keeps its owner, group and mode, less
any access for others. FILE must be the real path, not a symbolic link.

espcn-edge passwd /etc/espcn-edge/view.auth alice
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from espcn_edge.atomic import WriteError, atomic_path

from .engine import CommandError, command_parser
from .sinks.auth import hash_password, read_users, valid_user


def read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("password: ")
    if getpass.getpass("again: ") != password:
        raise CommandError("the two passwords differ: nothing written")
    return password


def set_password(path: Path, user: str, password: str) -> None:
    """Write `user`'s new hash into `path`, keeping the other users. Hashed before the lock
    (it takes a while), so concurrent runs wait only for each other's read and write."""
    encoded = hash_password(password)
    with _folder_locked(path):
        if path.is_symlink():
            raise CommandError(
                f"{path} is a symbolic link: give the file's real path "
                f"({os.path.realpath(path)}); nothing written"
            )
        users = read_users(path) if path.exists() else {}
        users[user] = encoded
        with atomic_path(path, private=True) as tmp:
            text = "".join(f"{name}:{hashed}\n" for name, hashed in users.items())
            tmp.write_text(text, encoding="utf-8")


@contextlib.contextmanager
def _folder_locked(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on `path`'s folder (made if missing), so concurrent runs read,
    change and write the file one at a time and none loses another's user. The folder, because
    the file is replaced by a rename (a lock on it would stay with the old file) and a lock file
    would be left behind."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        raise WriteError(path, e) from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    p = command_parser("passwd", __doc__)
    p.add_argument("file", type=Path, metavar="FILE", help="the auth file (created if missing)")
    p.add_argument("user", metavar="USER", help="the user name to add or change")
    args = p.parse_args(argv)
    if not valid_user(args.user):
        raise CommandError(f"user {args.user!r}: use a name without colons or spaces")
    password = read_password()
    if not password:
        raise CommandError("empty password: nothing written")
    set_password(args.file, args.user, password)
    print(f"{args.file}: password for {args.user} set")
    return 0
