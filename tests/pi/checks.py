"""The checks of the emulated Raspberry Pi (tests/pi/run), one PASS/FAIL line each.

`checks.py reference OUT SET5_LR` runs the commands whose outputs are compared, on x86, into OUT;
`checks.py pi REF WORK SET5_LR --runtime NAME --tolerance T` runs every check inside the Pi's
venv, comparing the same commands' outputs with REF (T = 0: identical pixels; else at most T grey
levels apart). To add a check, write a function decorated with `@check("what it shows")` that raises
`Failed` with the reason, or returns a short detail for the PASS line.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

CHECKS: list[tuple[str, Callable]] = []
APT_SITE = "/usr/lib/python3/dist-packages"  # where apt's Python modules live on a Pi
STEP_TIMEOUT = 600  # seconds for one emulated command: 15–90× slower than native


class Failed(Exception):
    """A check that did not hold; the message is the reason on its FAIL line."""


def check(title: str):
    def register(fn: Callable) -> Callable:
        CHECKS.append((title, fn))
        return fn

    return register


def espcn_edge(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """`espcn-edge ARGS` of this interpreter's environment (the install under test)."""
    exe = Path(sys.executable).parent / "espcn-edge"
    kwargs.setdefault("timeout", STEP_TIMEOUT)
    return subprocess.run([str(exe), *args], capture_output=True, text=True, **kwargs)


def run_ok(*args: str) -> str:
    done = espcn_edge(*args)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise Failed(f"espcn-edge {' '.join(args[:1])} exited {done.returncode}: {tail[0]}")
    return done.stdout


# The commands whose image outputs must match x86: name → arguments, given the output folder.
OUTPUT_COMMANDS: dict[str, Callable[[Path, Path], list[str]]] = {
    "demo": lambda out, set5: ["demo", "--frames", "1", "--size", "128x96",
                               "--out", str(out / "demo" / "demo_x2.png")],
    "upscale": lambda out, set5: ["upscale", str(set5), str(out / "upscale"), "--scale", "2",
                                  "--overwrite"],  # /srv/out-* stays in the cached root
}  # fmt: skip


def make_outputs(out: Path, set5: Path) -> None:
    for name, argv in OUTPUT_COMMANDS.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        run_ok(*argv(out, set5))


def compare_folder(ours: Path, ref: Path, tolerance: int) -> str:
    """Pixels of every image in `ref` against ours: equal, or at most `tolerance` levels apart."""
    names = sorted(p.name for p in ref.iterdir())
    if not names:
        raise Failed(f"no reference outputs in {ref}")
    worst, mean = 0, 0.0
    for name in names:
        if not (ours / name).is_file():
            raise Failed(f"{name} was not written")
        a = np.asarray(Image.open(ours / name), dtype=np.int16)
        b = np.asarray(Image.open(ref / name), dtype=np.int16)
        if a.shape != b.shape:
            raise Failed(f"{name}: {a.shape} here, {b.shape} on x86")
        diff = int(np.abs(a - b).max())
        worst, mean = max(worst, diff), max(mean, float(np.abs(a - b).mean()))
        if diff > tolerance:
            count = int((np.abs(a - b) > tolerance).sum())
            raise Failed(f"{name}: {count} values differ by more than {tolerance} (up to {diff})")
    return f"{len(names)} images, difference max {worst}, mean ≤ {mean:.2f} grey levels"


class Context:
    def __init__(self, args: argparse.Namespace):
        self.ref, self.work, self.set5 = args.ref, args.work, args.set5
        self.runtime, self.tolerance = args.runtime, args.tolerance


@check("apt's camera stack imports after the install, with apt's numpy and Pillow")
def camera_stack(ctx: Context) -> str:
    found = {}
    # numexpr is compiled against numpy 1.x, as Pi OS's simplejpeg is: numpy 2 breaks it
    for name in ("picamera2", "libcamera", "simplejpeg", "av", "numexpr", "numpy", "PIL"):
        try:
            module = importlib.import_module(name)
        except Exception as e:  # an ABI mismatch raises ImportError or ValueError
            raise Failed(f"import {name}: {type(e).__name__}: {e}") from e
        found[name] = module
    for name in ("numpy", "PIL"):
        if not found[name].__file__.startswith(APT_SITE):
            raise Failed(f"{name} {found[name].__version__} shadows apt's: {found[name].__file__}")
    return ", ".join(f"{name} {_version(name, module)}" for name, module in found.items())


def _version(name: str, module) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:  # apt's libcamera binding has no metadata
        return getattr(module, "__version__", "(apt)")


@check("no TensorFlow; the device commands run on the chosen interpreter")
def no_tensorflow(ctx: Context) -> str:
    if importlib.util.find_spec("tensorflow") is not None:
        raise Failed("tensorflow is installed")
    from espcn_edge import Upscaler

    backend = Upscaler(scale=2, variant="plain").backend
    if backend != ctx.runtime:
        raise Failed(f"the upscaler uses {backend}, not {ctx.runtime}")
    return f"backend {backend}"


def _outputs_match(ctx: Context, name: str) -> str:
    argv = OUTPUT_COMMANDS[name](ctx.work, ctx.set5)
    (ctx.work / name).mkdir(parents=True, exist_ok=True)
    run_ok(*argv)
    return compare_folder(ctx.work / name, ctx.ref / name, ctx.tolerance)


@check("espcn-edge demo: the same image as on x86")
def demo(ctx: Context) -> str:
    return _outputs_match(ctx, "demo")


@check("espcn-edge upscale of Set5 ×2 LR: the same images as on x86")
def upscale(ctx: Context) -> str:
    return _outputs_match(ctx, "upscale")


@check("espcn-edge camera with the real picamera2 and no camera: one line, exit status 2")
def no_camera(ctx: Context) -> str:
    done = espcn_edge("camera", "--source", "picamera2", "--frames", "1")
    errors = [line for line in done.stderr.splitlines() if line.startswith("espcn-edge camera:")]
    ok = len(errors) == 1 and "cannot open the camera" in errors[0]
    if done.returncode != 2 or not ok or "Traceback" in done.stderr:
        raise Failed(f"exit {done.returncode}, stderr {done.stderr.strip()[-300:]!r}")
    return errors[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fetch_view(base: str, proc: subprocess.Popen) -> str:
    deadline = time.monotonic() + STEP_TIMEOUT
    while True:
        try:
            page = urllib.request.urlopen(base + "/", timeout=30).read().decode()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise Failed("the live view never answered") from None
            time.sleep(1)
    if "/stream.mjpg" not in page:
        raise Failed("the page does not show /stream.mjpg")
    with urllib.request.urlopen(base + "/stream.mjpg", timeout=120) as stream:
        if not stream.headers["Content-Type"].startswith("multipart/x-mixed-replace"):
            raise Failed(f"stream type {stream.headers['Content-Type']}")
        head = stream.read(4096)
    if b"\xff\xd8" not in head:
        raise Failed("no JPEG in the stream's first part")
    stats = json.loads(urllib.request.urlopen(base + "/stats.json", timeout=30).read())
    if stats.get("frames", 0) < 1:
        raise Failed(f"stats report no frames: {stats}")
    return f"page, MJPEG and stats ({stats['frames']} frames so far)"


@check("espcn-edge camera --source demo --view: page, stream and stats fetched inside the Pi")
def live_view(ctx: Context) -> str:
    port = _free_port()
    argv = ["camera", "--source", "demo", "--size", "160x120", "--frames", "100000"]
    exe = Path(sys.executable).parent / "espcn-edge"
    proc = subprocess.Popen(
        [str(exe), *argv, "--view", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        detail = _fetch_view(f"http://127.0.0.1:{port}", proc)
    except Exception as e:
        proc.kill()
        err = proc.communicate()[1].strip()[-300:]
        raise Failed(f"{e}; the camera's stderr: {err!r}") from None
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise Failed("the camera did not stop on SIGTERM") from None
    if proc.returncode != 0:
        raise Failed(f"camera exited {proc.returncode} after SIGTERM: {err.strip()[-300:]!r}")
    return detail


@check("espcn-edge upscale of an H.264 clip made with PyAV (a picamera2 dependency)")
def pyav_h264(ctx: Context) -> str:
    import av

    clip, out = ctx.work / "clip.mp4", ctx.work / "clip_x2.mp4"
    frames = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(5)]
    with av.open(str(clip), "w") as box:
        stream = box.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for rgb in frames:
            box.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        box.mux(stream.encode())
    run_ok("upscale", str(clip), str(out), "--scale", "2", "--overwrite")
    with av.open(str(out)) as box:
        video = box.streams.video[0]
        codec, size = video.codec_context.name, (video.width, video.height)
        decoded = [f.to_ndarray(format="rgb24") for f in box.decode(video=0)]
    if codec != "h264" or size != (128, 96) or len(decoded) != len(frames):
        raise Failed(f"{codec} {size[0]}×{size[1]}, {len(decoded)} of {len(frames)} frames")
    pairs = zip(decoded, frames, strict=True)
    error = max(int(np.abs(a.astype(int) - b[0, 0]).max()) for a, b in pairs)
    if error > 8:
        raise Failed(f"upscaled flat frames differ from their grey by up to {error} levels")
    return f"av {av.__version__}: {len(frames)} frames 64×48 → h264 128×96, max error {error}"


NO_CAMERA = ("IndexError", "RuntimeError")  # what Picamera2() raises with none attached


def _example(name: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    script = Path(__file__).parents[2] / "examples" / name
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          timeout=STEP_TIMEOUT, env=dict(os.environ, **env))  # fmt: skip


@check("examples/: the Pillow folder script, and the picamera2 one up to the real camera")
def examples(ctx: Context) -> str:
    src, out = ctx.work / "example-in", ctx.work / "example-out"
    src.mkdir(parents=True, exist_ok=True)
    photo = sorted(ctx.set5.glob("*.png"))[0]
    (src / photo.name).write_bytes(photo.read_bytes())
    done = _example("photos_folder.py", str(src), str(out))
    if done.returncode != 0 or not (out / photo.name).is_file():
        raise Failed(f"photos_folder.py exited {done.returncode}: {done.stderr.strip()[-300:]!r}")
    # no camera here: the script loads the model, then the real picamera2 finds no camera
    cam = _example("picamera2_capture.py", EXAMPLE_FRAMES="1")
    last = (cam.stderr.strip().splitlines() or [""])[-1]
    if cam.returncode == 0 or "layout" not in cam.stdout or not last.startswith(NO_CAMERA):
        raise Failed(f"picamera2_capture.py exited {cam.returncode}: {cam.stderr.strip()[-300:]!r}")
    return f"{done.stdout.strip()}; picamera2 without a camera: {last}"


def run_checks(ctx: Context, label: str) -> int:
    ctx.work.mkdir(parents=True, exist_ok=True)
    failed = 0
    for title, fn in CHECKS:
        t0 = time.monotonic()
        try:
            verdict, detail = "PASS", fn(ctx)
        except Failed as e:
            verdict, detail, failed = "FAIL", str(e), failed + 1
        except Exception as e:  # a broken check is a failure too, never a crash of the list
            verdict, detail, failed = "FAIL", f"{type(e).__name__}: {e}", failed + 1
        print(f"{verdict} [{label}] {title} — {detail} ({time.monotonic() - t0:.0f} s)", flush=True)
    return failed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    ref = sub.add_parser("reference")
    ref.add_argument("out", type=Path)
    ref.add_argument("set5", type=Path)
    pi = sub.add_parser("pi")
    for name in ("ref", "work", "set5"):
        pi.add_argument(name, type=Path)
    pi.add_argument("--runtime", required=True, help="the interpreter the install should use")
    pi.add_argument("--tolerance", type=int, default=0, help="grey levels allowed vs REF")
    pi.add_argument("--label", default="pi")
    args = p.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if args.mode == "reference":
        make_outputs(args.out, args.set5)
        return 0
    return 1 if run_checks(Context(args), args.label) else 0


if __name__ == "__main__":
    sys.exit(main())
