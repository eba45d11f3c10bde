"""`espcn-edge passwd FILE USER`: add or change a live-view user in a `--view-auth` file.

The password is asked twice on the terminal, or read as one line from stdin when that is not
a terminal (echo "$PASS" | espcn-edge passwd …); the file keeps only its salted hash, is
written atomically and readable by its owner alone (0600).

espcn-edge passwd /etc/espcn-edge/view.auth alice
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from espcn_edge.atomic import WriteError, write_text

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
    """Write `user`'s new hash into `path`, keeping the other users."""
    users = read_users(path) if path.exists() else {}
    users[user] = hash_password(password)
    try:  # the atomic write keeps an existing file's mode: make it 0600 first
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        os.chmod(path, 0o600)
    except OSError as e:
        raise WriteError(path, e) from e
    write_text(path, "".join(f"{name}:{encoded}\n" for name, encoded in users.items()))


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
