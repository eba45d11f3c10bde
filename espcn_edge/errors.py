"""The one base class of user-facing problems: every command prints its message as one line and
exits with status 2; any other exception is a bug and shows its traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem with what the user asked for (a file, a flag, a combination): the message says
    what, which file and what to do, on one line."""


class ModelError(UserError, ValueError):
    """A model file that cannot be used (missing, corrupt, not an ESPCN, wrong scale, a tier
    that does not ship at a scale)."""


class DelegateError(UserError, RuntimeError):
    """A requested delegate that could not be loaded, when it was required."""
