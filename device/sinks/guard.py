"""Who may reach the live view: the refusal to serve the network openly, TLS, the Host check
and the headers every answer carries (threat model: docs/guarantees.md)."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from .auth import Credentials, warn_if_exposed
from .page import SCRIPT_SHA256
from .sink import SinkError

# The page's own script (by its hash) and style, its stream and stats, nothing else; never in a
# frame, nor embedded by another site's page (an <img> of the stream); no versions named.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": f"default-src 'self'; script-src 'sha256-{SCRIPT_SHA256}'; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}
HSTS = {"Strict-Transport-Security": "max-age=31536000"}  # over TLS: a browser asks for it again


def security_headers(tls: bool) -> dict[str, str]:
    """The headers every answer carries."""
    return {**SECURITY_HEADERS, **HSTS} if tls else SECURITY_HEADERS


@dataclass(frozen=True)
class Guard:
    """The view's protections: `credentials` (None: open), `tls` (None: plain HTTP)."""

    credentials: Credentials | None = None
    tls: ssl.SSLContext | None = None


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: it may resolve to anything
        return False


def make_guard(
    host: str,
    auth: Path | None = None,
    insecure: bool = False,
    cert: Path | None = None,
    key: Path | None = None,
) -> Guard:
    """The guard for `--view HOST:…` from the camera's options; SinkError (one line) when the
    view would serve the network without a password by accident, or a file cannot be used."""
    if auth is None and not insecure and not is_loopback(host):
        raise SinkError(
            f"--view {host}: would show the camera to anyone on the network; add a password "
            "(`espcn-edge passwd FILE USER`, then --view-auth FILE) or pass --view-insecure"
        )
    if (cert is None) != (key is None):
        raise SinkError("--tls-cert and --tls-key go together: give both")
    guard = Guard(
        Credentials.from_file(auth) if auth else None,
        tls_context(cert, key) if cert and key else None,
    )
    if auth:  # once the files are known good: a bad one is the only line printed
        warn_if_exposed(auth)
    return guard


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        reason = getattr(e, "strerror", None) or getattr(e, "reason", None) or e
        raise SinkError(
            f"--tls-cert {cert} / --tls-key {key}: cannot use them ({reason}); "
            "give a PEM certificate and its private key"
        ) from e
    return context


def allowed_hosts(host: str, port: int) -> set[str]:
    """Host header values a loopback view answers: its own address and localhost, so a web
    page whose name was rebound to 127.0.0.1 is not served (DNS rebinding)."""
    own = f"[{host}]" if ":" in host else host
    return {f"{own}:{port}".lower(), f"localhost:{port}", "localhost"}
