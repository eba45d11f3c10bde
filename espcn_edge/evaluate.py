"""`espcn-edge eval`: Y-PSNR / SSIM of several models side by side on a benchmark set.

Protocol of the published SR tables: LR = the set's MATLAB-bicubic files
(``LR_bicubic/X{s}/img_NNNx{s}.png``), HR = top-left crop of ``HR/img_NNN.png`` to LR × s,
whole-image inference, the model's Y merged with bicubic chroma to RGB, metrics on MATLAB Y with
`s` pixels shaved (`espcn_edge.metrics`); single-channel files (Set14's img_003) are measured
on their grey values, as the MATLAB scripts behind the published figures do. Other folders
work too: a DIV2K root (its validation split) or a plain folder of HR images (LR made with the
project's bicubic `downscale`).

A model is a `.tflite` file (the device runtime, no TensorFlow), a `.keras` file, ``bicubic``,
``opencv:PATH.pb`` (OpenCV contrib's dnn_superres, e.g.
../shared/peers/opencv_dnn_superres/ESPCN_x2.pb) or ``rgb:PATH.tflite`` (an RGB-in, RGB-out
model run as it is, e.g. ../shared/peers/abpn/ABPN_x3_int8.tflite).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from . import __version__, commandline
from .atomic import write_text
from .color import float_to_y, resize_bicubic, y_to_float
from .dataset import DatasetError, ImagePair, find_pairs, load_usable, read_pair
from .errors import ModelError, UserError
from .frames import upscale_rgb
from .imageio import list_images, save_rgb
from .metrics import psnr, ssim
from .paths import refuse_inputs
from .quiet import import_tensorflow_quietly, quiet_tensorflow
from .rgb_model import RgbModel
from .tiers import TIERS, default_model_path


@dataclass(frozen=True)
class EvalImage:
    name: str
    lr: np.ndarray  # RGB uint8
    hr: np.ndarray  # RGB uint8, exactly scale × LR
    grey: bool = False  # a single-channel file: metrics on its grey values, as MATLAB does
    lr_file: bool = True  # False: LR made from HR with the project's bicubic `downscale`


@dataclass(frozen=True)
class EvalModel:
    name: str
    upscale_rgb: Callable[[np.ndarray], np.ndarray]


def _is_grey_file(path: Path) -> bool:
    """True for single-channel image files (Set14's img_003): the published MATLAB protocol
    applies rgb2ycbcr only to colour images and measures grey ones on their own values."""
    try:
        with Image.open(path) as im:
            return im.mode in ("1", "L", "I", "I;16", "F")
    except OSError:
        return False


def images_from_pairs(
    pairs: Sequence[ImagePair], scale: int, root: str | os.PathLike = "."
) -> list[EvalImage]:
    """RGB (LR, HR) images of dataset pairs (`read_pair`); bad files are skipped with a warning
    each, as in training."""

    def load(pair: ImagePair) -> EvalImage:
        lr, hr = read_pair(pair, scale)
        return EvalImage(pair.hr.stem, lr, hr, _is_grey_file(pair.hr), pair.lr is not None)

    return load_usable(list(pairs), load, scale, root)


def load_images(data_dir: str | os.PathLike, scale: int) -> list[EvalImage]:
    """A benchmark set (HR/ + LR_bicubic/X{s}/), a DIV2K root (validation split) or HR folder."""
    root = Path(data_dir)
    lr_dir = root / "LR_bicubic" / f"X{scale}"
    if (root / "HR").is_dir():
        if not lr_dir.is_dir():
            raise DatasetError(f"{lr_dir}: no ×{scale} LR images in this benchmark set")
        pairs = [
            ImagePair(hr, lr_dir / f"{hr.stem}x{scale}{hr.suffix}")
            for hr in list_images(root / "HR")
        ]
    elif (root / "DIV2K_train_HR").is_dir():
        pairs = find_pairs(root, scale, "valid")
    elif root.is_dir():
        pairs = [ImagePair(p, None) for p in list_images(root)]
    else:
        raise DatasetError(f"{root}: dataset folder not found")
    if not pairs:
        raise DatasetError(f"{root}: no images found")
    return images_from_pairs(pairs, scale, root)


def y_model(name: str, scale: int, upscale_y: Callable[[np.ndarray], np.ndarray]) -> EvalModel:
    """An EvalModel from a Y-plane upscaler (chroma by bicubic)."""
    return EvalModel(name, lambda rgb: upscale_rgb(rgb, scale, upscale_y))


def bicubic_model(scale: int) -> EvalModel:
    def up(y: np.ndarray) -> np.ndarray:
        return resize_bicubic(y, (y.shape[1] * scale, y.shape[0] * scale))

    return y_model("bicubic", scale, up)


def keras_upscale_y(model) -> Callable[[np.ndarray], np.ndarray]:
    """A Y-plane upscaler from an in-memory Keras model (float, whole-image inference)."""

    def up(y: np.ndarray) -> np.ndarray:
        out = model(y_to_float(y)[None, ..., None], training=False)
        out = out.numpy() if hasattr(out, "numpy") else np.asarray(out)
        return float_to_y(out[0, ..., 0])

    return up


def keras_model(model, scale: int, name: str = "keras") -> EvalModel:
    """An EvalModel from an in-memory Keras model."""
    return y_model(name, scale, keras_upscale_y(model))


def _load_keras(path: Path, scale: int) -> EvalModel:
    import_tensorflow_quietly()  # lazily: only .keras evaluation needs TensorFlow; its start-up
    import keras  # lines (CUDA stubs, cpu_feature_guard) only with -v

    from .model import model_scale

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as e:  # Keras raises many types for unreadable files
        raise ModelError(f"{path}: cannot load Keras model ({str(e).splitlines()[0]})") from None
    if model_scale(model) != scale:
        raise ModelError(f"{path}: model is ×{model_scale(model)}, not ×{scale}")
    return keras_model(model, scale, path.name)


def opencv_algorithm(path: Path) -> str:
    """OpenCV's name of the algorithm in PATH.pb: ESPCN_x2.pb → espcn, FSRCNN_x3.pb → fsrcnn."""
    return path.stem.split("_")[0].lower()


def opencv_scale(path: Path) -> int | None:
    """The scale in an OpenCV model's file name: ESPCN_x3.pb → 3 (None without one)."""
    match = re.search(r"_x(\d+)$", path.stem)
    return int(match[1]) if match else None


def opencv_superres(path: Path, scale: int):
    """OpenCV's dnn_superres running PATH.pb (its algorithm and scale from the file's name); a
    one-line ValueError otherwise."""
    try:
        import cv2

        sr = cv2.dnn_superres.DnnSuperResImpl_create()
    except (ImportError, AttributeError):
        raise ModelError("OpenCV models need opencv-contrib-python-headless") from None
    if int(cv2.__version__.split(".")[0]) >= 5:  # its DNN module dropped the TensorFlow importer
        raise ModelError(
            f"{path}: OpenCV {cv2.__version__} cannot read TensorFlow .pb models; "
            "pip install 'opencv-contrib-python-headless<5'"
        )
    if not path.is_file():
        raise ModelError(f"{path}: OpenCV model not found")
    if opencv_scale(path) not in (None, scale):
        raise ModelError(f"{path}: an ×{opencv_scale(path)} model, not ×{scale}; match --scale")
    try:
        sr.readModel(str(path))
        sr.setModel(opencv_algorithm(path), scale)
    except cv2.error as e:
        raise ModelError(f"{path}: OpenCV cannot load it ({e.msg.strip()})") from None
    return sr


def _load_opencv(path: Path, scale: int) -> EvalModel:
    sr = opencv_superres(path, scale)
    return EvalModel(
        f"opencv:{path.name}", lambda rgb: sr.upsample(rgb[..., ::-1].copy())[..., ::-1]
    )


def load_model(
    spec: str, scale: int, threads: int | None = None, delegate: str | None = None
) -> EvalModel:
    """``bicubic``, ``opencv:PATH.pb``, ``rgb:PATH.tflite`` (an RGB-in, RGB-out model such as
    ABPN, run as it is), ``PATH.keras`` or ``PATH.tflite`` (ours: Y in, Y out, run with `threads`
    interpreter threads, None: one per core, and `delegate`, as on the device)."""
    if spec == "bicubic":
        return bicubic_model(scale)
    if spec.startswith("opencv:"):
        return _load_opencv(Path(spec[len("opencv:") :]), scale)
    if spec.startswith("rgb:"):
        model = RgbModel(spec[len("rgb:") :], threads)
        if model.scale != scale:
            raise ModelError(f"{model.path}: an RGB ×{model.scale} model, not ×{scale}")
        return EvalModel(f"rgb:{model.path.name}", model.upscale_rgb)
    path = Path(spec)
    if path.suffix == ".keras":
        return _load_keras(path, scale)
    if path.suffix == ".tflite":
        from .runtime import Upscaler

        upscaler = Upscaler(path, scale=scale, threads=threads, delegate=delegate, variant="plain")
        return y_model(path.name, scale, upscaler.upscale_y)
    raise ModelError(
        f"{spec}: unknown model (use a .keras or .tflite file, bicubic, opencv:PATH.pb or "
        "rgb:PATH.tflite)"
    )


def own_scale(spec: str) -> int | None:
    """The scale a model says it is, for eval without --scale: an opencv: file's name, a .tflite's
    metadata or graph; None for bicubic, .keras and what cannot be read (load_model says why)."""
    if spec.startswith("opencv:"):
        return opencv_scale(Path(spec[len("opencv:") :]))
    if spec.startswith("rgb:"):
        try:
            return RgbModel(spec[len("rgb:") :]).scale
        except ModelError:
            return None
    if Path(spec).suffix == ".tflite":
        from .runtime import Upscaler

        try:
            return Upscaler(spec, variant="plain").scale
        except ModelError:
            return None
    return None


def lr_source(images: Sequence[EvalImage]) -> str:
    """Where the LR inputs came from, for the results: published PSNRs need the set's files."""
    files = sum(im.lr_file for im in images)
    if files == len(images):
        return "LR files of the set (MATLAB bicubic)"
    made = "made from HR with espcn_edge.color.downscale (Pillow bicubic)"
    return made if files == 0 else f"{files} LR files, {len(images) - files} {made}"


def versions() -> dict[str, str]:
    """The versions behind a result: this package, Python, and each library it ran on."""
    found = {"espcn_edge": __version__, "python": platform.python_version()}
    for name in ("numpy", "PIL", "ai_edge_litert", "tflite_runtime", "tensorflow", "cv2"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "__version__"):
            found[name] = module.__version__
    return found


def _save(folder: Path, model: str, image: str, sr: np.ndarray) -> None:
    """SR image to FOLDER/MODEL/IMAGE.png, the model's label made a safe folder name."""
    save_rgb(folder / re.sub(r"[^\w.#-]+", "_", model) / f"{image}.png", sr)


def evaluate_models(
    models: Sequence[EvalModel],
    images: Sequence[EvalImage],
    scale: int,
    save_dir: Path | None = None,
) -> dict:
    """PSNR/SSIM per image and mean for each model; the JSON-ready result of `espcn-edge eval`.
    With `save_dir`, each SR image is written there too (one folder per model)."""
    results: dict = {
        "scale": scale,
        "shave_px": scale,
        "lr_source": lr_source(images),
        "images": [im.name for im in images],
        "models": {},
    }
    for model in models:
        name, n = model.name, 2
        while name in results["models"]:  # two models of one name: keep both
            name, n = f"{model.name} #{n}", n + 1
        rows, seconds = [], 0.0
        for im in images:
            start = time.perf_counter()
            sr = model.upscale_rgb(im.lr)
            seconds += time.perf_counter() - start
            if sr.shape != im.hr.shape:
                raise ModelError(
                    f"{model.name}: output {sr.shape} for {im.name}, expected {im.hr.shape}"
                )
            if save_dir is not None:
                _save(save_dir, name, im.name, sr)
            sr, hr = (sr[..., 0], im.hr[..., 0]) if im.grey else (sr, im.hr)
            rows.append((psnr(sr, hr, scale), ssim(sr, hr, scale)))
        p, s = np.array(rows).T
        results["models"][name] = {
            "psnr": p.round(4).tolist(), "ssim": s.round(5).tolist(),
            "mean_psnr": round(float(p.mean()), 4), "mean_ssim": round(float(s.mean()), 5),
            "seconds_per_image": round(seconds / len(images), 4),
        }  # fmt: skip
    results["versions"] = versions()  # after the models ran: every library they loaded
    return results


def format_table(results: dict) -> str:
    """Per-image and mean PSNR (dB) / SSIM, one column per model."""
    names = list(results["models"])
    width = max(20, *(len(n) + 2 for n in names))
    lines = [f"{'image':<12}" + "".join(f"{n:>{width}}" for n in names)]
    rows = [(im, i) for i, im in enumerate(results["images"])] + [("mean", None)]
    for label, i in rows:
        cells = []
        for n in names:
            m = results["models"][n]
            p, s = (m["mean_psnr"], m["mean_ssim"]) if i is None else (m["psnr"][i], m["ssim"][i])
            cells.append(f"{p:.2f} / {s:.4f}".rjust(width))
        lines.append(f"{label:<12}" + "".join(cells))
    return "\n".join(lines)


def run(
    models: Sequence[str],
    data: str | os.PathLike,
    scale: int,
    json_out: str | os.PathLike | None = None,
    threads: int | None = None,
    delegate: str | None = None,
    save_dir: str | os.PathLike | None = None,
) -> dict:
    images = load_images(data, scale)
    loaded = [load_model(m, scale, threads, delegate) for m in models]
    names = [m.name for m in loaded]  # runs/a/best.keras and runs/b/best.keras: use the paths
    loaded = [
        replace(m, name=spec) if names.count(m.name) > 1 else m
        for m, spec in zip(loaded, models, strict=True)
    ]
    results = evaluate_models(loaded, images, scale, Path(save_dir) if save_dir else None)
    results["data"] = str(data)
    print(f"×{scale} on {data}: Y-PSNR (dB) / SSIM, {scale} px shaved; LR: {results['lr_source']}")
    print(format_table(results))
    if json_out:
        write_text(json_out, json.dumps(results, indent=2) + "\n")
    if save_dir:
        print(f"SR images in {save_dir}/MODEL/IMAGE.png")
    return results


def main(argv: list[str] | None = None) -> int:
    prog = "espcn-edge eval"
    parser = commandline.parser(prog, __doc__)
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        help=".tflite, .keras, bicubic, opencv:PATH.pb or rgb:PATH.tflite (an RGB model such as "
        "ABPN, run as it is); repeat to compare",
    )
    parser.add_argument(
        "--tier",
        action="append",
        default=[],
        choices=TIERS,
        help="a shipped int8 model of --scale: tiny, standard or quality (repeat to compare; "
        "evaluated before the --model ones)",
    )
    parser.add_argument(
        "--data", required=True, help="benchmark set, e.g. ../shared/data/benchmark/Set5"
    )
    parser.add_argument(
        "--scale",
        type=int,
        choices=(2, 3, 4),
        help="upscaling factor of the models (default: that of the first .tflite or opencv: "
        "--model, read from it; else 2); a model of another scale is refused",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--save", type=Path, metavar="DIR", help="also write each SR image, DIR/MODEL/IMAGE.png"
    )
    parser.add_argument(
        "--threads",
        type=commandline.positive_int,
        help=".tflite interpreter threads (default: the number of CPU cores)",
    )
    parser.add_argument("--delegate", help=f".tflite models: {commandline.DELEGATE_HELP}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="the libraries' own log lines too"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    logging.getLogger("PIL").setLevel(logging.INFO)  # one line per PNG chunk otherwise
    quiet_tensorflow(args.verbose)
    if not (args.model or args.tier):
        return commandline.fail(prog, "no model to evaluate: add --tier NAME or --model PATH")
    try:
        scale = args.scale or next((s for s in map(own_scale, args.model) if s), 2)
        models = [str(default_model_path(scale, tier)) for tier in args.tier] + args.model
        files = [m.split(":", 1)[1] if m.startswith(("opencv:", "rgb:")) else m for m in models]
        for option, written in (("--json", args.json), ("--save", args.save)):
            if written:
                refuse_inputs(option, written, [args.data, *files])
        run(models, args.data, scale, args.json, args.threads, args.delegate, args.save)
    except (UserError, OSError) as e:  # OSError: a file the system refused
        return commandline.fail(prog, e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
