"""The live view's guard, with real clients: passwords (`espcn-edge passwd`, HTTP Basic on every
route, wrong guesses slowed per client address), TLS, the Host check, the security headers and
the refusal to serve the network openly; headless Chromium logging in and seeing frames."""

from __future__ import annotations

import base64
import errno
import http.client
import os
import pwd
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_device_view import CHROMIUM, LR, _painted, chromium_shot, start_view, tiny  # noqa: F401

from device.sinks.auth import Credentials, Throttle, _verify, basic_pair, hash_password, read_users
from device.sinks.guard import Guard, tls_context

ROOT = Path(__file__).parents[1]
USER, PASSWORD = "alice", "correct horse"
ROUTES = ["/", "/stats.json", "/stream.mjpg"]


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


RIGHT, WRONG = basic(USER, PASSWORD), basic(USER, "wrong")


def request(
    port, path="/", headers=None, source="127.0.0.1", context=None, host="127.0.0.1", timeout=15
):
    """(status, headers, first bytes of the body) of one GET from the loopback address
    `source`; HTTPS when `context` is given."""
    kwargs = {"timeout": timeout, "source_address": (source, 0)}
    if context is None:
        conn = http.client.HTTPConnection(host, port, **kwargs)
    else:
        conn = http.client.HTTPSConnection(host, port, context=context, **kwargs)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read(200)
    finally:
        conn.close()


def guarded(tls=None) -> Guard:
    """A password (hashed with few iterations: the tests time the throttle, not PBKDF2)."""
    return Guard(Credentials({USER: hash_password(PASSWORD, iterations=1000)}), tls)


@pytest.fixture(scope="module")
def authed(tiny):  # noqa: F811
    yield from start_view(tiny, compare=False, guard=guarded())


@pytest.fixture(scope="module")
def open_view(tiny):  # noqa: F811
    yield from start_view(tiny, compare=False)


# --- passwords -----------------------------------------------------------------------------


def passwd(path: Path, user: str, password: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "device.cli", "passwd", str(path), user],
        input=password + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=60,
    )


def test_passwd_writes_a_0600_file_of_salted_hashes_never_the_password(tmp_path):
    path = tmp_path / "view.auth"
    assert passwd(path, USER, PASSWORD).returncode == 0
    first = path.read_text()
    assert passwd(path, "bob", "hunter2").returncode == 0
    assert passwd(path, USER, PASSWORD).returncode == 0  # the same password again: a new salt
    text = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert PASSWORD not in text and "hunter2" not in text
    users = read_users(path)
    assert sorted(users) == [USER, "bob"] and users[USER].startswith("pbkdf2_sha256$600000$")
    assert users[USER] not in first  # rehashed with a fresh salt
    assert not [p for p in tmp_path.iterdir() if p.name != "view.auth"]  # no temporary left
    credentials = Credentials(users)
    assert credentials.verify(basic_pair(RIGHT["Authorization"]))
    assert not credentials.verify(basic_pair(WRONG["Authorization"]))
    assert not credentials.verify(basic_pair(basic("mallory", PASSWORD)["Authorization"]))


def test_passwd_problems_are_one_line_and_write_nothing(tmp_path):
    (tmp_path / "file").write_text("")
    for path, user, password in (
        (tmp_path / "file" / "view.auth", USER, PASSWORD),  # its folder is a file
        (tmp_path / "view.auth", "a:b", PASSWORD),
        (tmp_path / "view.auth", USER, ""),
    ):
        done = passwd(path, user, password)
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
        assert not path.exists()


def test_concurrent_passwd_runs_keep_every_user_and_the_changed_password(tmp_path):
    """Six users added and alice's password changed, all at once: each run reads, changes and
    writes the file under a lock, so none undoes another's."""
    path = tmp_path / "view.auth"
    assert passwd(path, USER, "old password").returncode == 0
    runs = {f"user{n}": f"password {n}" for n in range(6)} | {USER: PASSWORD}
    with ThreadPoolExecutor(len(runs)) as pool:
        done = list(pool.map(lambda run: passwd(path, *run), runs.items()))
    assert [d.returncode for d in done] == [0] * len(runs), [d.stderr for d in done]
    users = read_users(path)
    assert sorted(users) == sorted(runs)
    assert _verify(PASSWORD, users[USER]) and not _verify("old password", users[USER])


def auth_file(path: Path, mode: int) -> Path:
    """An auth file of one user (few iterations: the tests read it, they do not time it)."""
    path.write_text(f"{USER}:{hash_password(PASSWORD, iterations=1000)}\n")
    os.chmod(path, mode)
    return path


@pytest.mark.skipif(os.geteuid() != 0, reason="giving the file to nobody needs root (CI is root)")
def test_passwd_as_root_keeps_the_files_owner_group_and_mode(tmp_path):
    """The service reads the file as nobody:nogroup; root adding a user must not take it away."""
    nobody = pwd.getpwnam("nobody")
    path = auth_file(tmp_path / "view.auth", 0o640)
    os.chown(path, nobody.pw_uid, nobody.pw_gid)
    assert passwd(path, "bob", "hunter2").returncode == 0
    kept = path.stat()
    assert (kept.st_uid, kept.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    assert stat.S_IMODE(kept.st_mode) == 0o640 and sorted(read_users(path)) == [USER, "bob"]


def test_passwd_keeps_the_groups_access_but_takes_away_others(tmp_path):
    path = auth_file(tmp_path / "view.auth", 0o664)
    assert passwd(path, "bob", "hunter2").returncode == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o660


def listing(folder: Path) -> dict[str, object]:
    """Each entry of `folder`: a link's target, a file's bytes and mode."""
    return {
        p.name: os.readlink(p) if p.is_symlink() else (p.read_bytes(), p.stat().st_mode)
        for p in folder.iterdir()
    }


@pytest.mark.parametrize("target", ["missing.auth", "real.auth"])
def test_passwd_refuses_a_symbolic_link_and_writes_nothing(tmp_path, target):
    auth_file(tmp_path / "real.auth", 0o640)
    link = tmp_path / "link.auth"
    link.symlink_to(target)
    before = listing(tmp_path)
    done = passwd(link, "bob", "hunter2")
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "symbolic link" in done.stderr and os.path.realpath(tmp_path / target) in done.stderr
    assert listing(tmp_path) == before


@pytest.mark.parametrize("bad", ["", "alice", "alice:plain", "a:pbkdf2_sha256$1$@@$x"])
def test_a_malformed_auth_file_is_one_line_and_exit_2(tmp_path, bad):
    path = tmp_path / "view.auth"
    path.write_text(bad + "\n")
    done = camera(["--view", "0.0.0.0:0", "--view-auth", str(path)])
    assert done.returncode == 2 and str(path) in done.stderr
    assert len(done.stderr.splitlines()) == 1 and "espcn-edge passwd" in done.stderr


def camera(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "device.cli", "camera", "--source", "demo", "--frames", "1", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=120,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::", "example.com"])
def test_a_network_view_without_a_password_is_refused(host):
    done = camera(["--view", f"{host}:0"])
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    for hint in ("espcn-edge passwd", "--view-auth", "--view-insecure"):
        assert hint in done.stderr


@pytest.mark.parametrize(
    "mode, can",
    [(0o644, "read"), (0o602, "change"), (0o666, "read and change"), (0o640, None)],
    ids=["0644", "0602", "0666", "0640"],
)
def test_the_camera_warns_once_of_an_auth_file_other_users_can_use(tmp_path, mode, can):
    path = auth_file(tmp_path / "view.auth", mode)
    done = camera(["--view", "127.0.0.1:0", "--view-auth", str(path)])
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING")]
    if can is None:
        assert warnings == []
    else:
        [line] = warnings
        assert f"{path}: every local user can {can} it" in line and f"chmod o-rwx {path}" in line


def test_every_route_asks_for_the_password(authed):
    _, port, _ = authed
    for path in ROUTES:
        for headers, source in (
            (None, "127.0.0.1"),
            (WRONG, "127.0.0.6"),
            (basic("", ""), "127.0.0.7"),
        ):
            status, got, body = request(port, path, headers, source)
            assert status == 401 and got["WWW-Authenticate"].startswith('Basic realm="')
            assert b"espcn" not in body and b"\xff\xd8" not in body
        status, got, body = request(port, path, RIGHT)
        assert status == 200
    assert b"\xff\xd8" in request(port, "/stream.mjpg", RIGHT)[2]  # a frame comes


def timed_guess(port, source: str) -> float:
    t0 = time.monotonic()
    assert request(port, "/", WRONG, source)[0] == 401
    return time.monotonic() - t0


def test_wrong_guesses_are_answered_later_and_later(authed):
    _, port, _ = authed
    delays = [timed_guess(port, "127.0.0.2") for _ in range(4)]
    for i, delay in enumerate(delays):  # 0.25, 0.5, 1, 2 s at least
        assert delay >= Throttle.BASE_S * 2**i, delays
    assert sum(delays) >= 3.75
    assert request(port, "/", RIGHT, "127.0.0.2")[0] == 200  # the right one still works


def test_a_right_password_elsewhere_is_served_while_someone_guesses(authed):
    _, port, _ = authed
    assert request(port, "/", RIGHT, "127.0.0.4")[0] == 200  # the watcher, logged in already
    answered = []

    def guess():
        for _ in range(4):
            answered.append(timed_guess(port, "127.0.0.3"))

    guesser = threading.Thread(target=guess)
    guesser.start()
    while len(answered) < 3:  # the fourth guess is now held for 2 s
        time.sleep(0.05)
    for path in ROUTES:
        assert request(port, path, RIGHT, "127.0.0.4")[0] == 200
    assert len(answered) == 3, "the watcher waited for the guesser"
    guesser.join()


# --- Host check and headers ------------------------------------------------------------------


def raw(port: int, data: bytes, source: str = "127.0.0.1") -> bytes:
    """What the server sends back to `data` on a plain TCP connection from the loopback address
    `source`, until it closes. A TLS server may drop a plain client before it has finished
    writing (ENOTCONN, a reset): then the reply is what came before."""
    reply = b""
    with socket.create_connection(("127.0.0.1", port), 10, (source, 0)) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(65536):
                reply += chunk
        except OSError as e:  # a timeout (errno None) or any other error still fails the test
            if e.errno not in (errno.ENOTCONN, errno.ECONNRESET, errno.EPIPE):
                raise
    return reply


def test_a_loopback_view_answers_only_its_own_host_names(open_view):
    _, port, _ = open_view
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"LOCALHOST:{port}"):
        assert request(port, "/", {"Host": host})[0] == 200, host
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1:{port + 1}", "127.0.0.1"):
        assert request(port, "/stats.json", {"Host": host})[0] == 421, host
    assert raw(port, b"GET / HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 421 ")  # no Host at all


def test_every_answer_carries_the_security_headers(authed, open_view):
    answers = [request(open_view[1], path) for path in ROUTES + ["/nothing"]]
    answers += [request(open_view[1], "/", {"Host": "evil.example"})]
    answers += [request(authed[1], path, RIGHT) for path in ROUTES]
    answers += [request(authed[1], "/")]  # 401
    for status, headers, _ in answers:
        assert headers["X-Content-Type-Options"] == "nosniff", status
        assert headers["Referrer-Policy"] == "no-referrer"
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    for path in ("/stats.json", "/stream.mjpg"):
        assert request(open_view[1], path)[1]["Cache-Control"] == "no-store"


# --- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)]
        + ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@pytest.fixture(scope="module")
def tls_view(tiny, certificate):  # noqa: F811
    yield from start_view(tiny, compare=False, guard=guarded(tls_context(*certificate)))


def test_tls_serves_https_and_a_plain_request_gets_no_page(tls_view, certificate):
    _, port, _ = tls_view
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    assert request(port, "/", context=trusting)[0] == 401
    status, _, body = request(port, "/stream.mjpg", RIGHT, context=trusting)
    assert status == 200 and b"\xff\xd8" in body
    reply = raw(port, f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    assert not reply.startswith(b"HTTP/1.1 2") and b"espcn" not in reply
    with pytest.raises(ssl.SSLCertVerificationError):  # a client that checks needs the cert
        request(port, "/", context=ssl.create_default_context())
    assert request(port, "/", RIGHT, context=trusting)[0] == 200  # still serving


def test_an_unusable_certificate_is_one_line_and_exit_2(tmp_path, certificate):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    for cert, key in ((tmp_path / "missing.pem", certificate[1]), (junk, junk)):
        done = camera(["--view", "127.0.0.1:0", "--tls-cert", str(cert), "--tls-key", str(key)])
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
        assert str(cert) in done.stderr


# --- a real browser --------------------------------------------------------------------------


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed here")
def test_headless_chromium_logs_in_and_sees_the_stream(authed, tmp_path):
    _, port, pipeline = authed
    rgb = chromium_shot(f"http://{USER}:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{port}/", tmp_path)
    area = rgb[120 : 100 + 2 * LR[1], 10 : 2 * LR[0] - 10]
    assert _painted(area).mean() > 0.5, "stream area is blank"
    assert area.std() > 20
    assert pipeline.stats.frames > 0

    try:  # no password: no page, no stream
        rgb = chromium_shot(f"http://127.0.0.1:{port}/", tmp_path)
    except AssertionError as e:  # Chromium before 150: no screenshot of a 401 at all
        assert "AUTH" in str(e)
    else:  # Chromium 150: a screenshot of the 401's plain text, nothing where frames would be
        assert rgb[120 : 100 + 2 * LR[1], 10 : 2 * LR[0] - 10].std() < 5
