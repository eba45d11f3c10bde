"""Shared by the benchmark scripts: ../shared beside the project, the training folder, whether a
run is finished, a run's committed state, the benchmark sets' PSNR of one model."""

from __future__ import annotations

import shutil
from pathlib import Path

from train.budget import finished  # noqa: F401 (shared with the scripts)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
BENCHMARK_SETS = {name: SHARED / "data" / "benchmark" / name for name in ("Set5", "Set14")}
PEERS = SHARED / "peers" / "opencv_dnn_superres"
SNAPSHOTS = ROOT / "benchmarks" / "checkpoints"  # long runs' small state, committed
STATE = ("backup", "best.keras", "last.keras", "card.json", "history.csv")
# the layer-size studies' candidates beyond the product's named specs (espcn_edge/spec.py), ~3 k
# to ~87 k MAC per LR pixel: a study run is named after its candidate
STUDY_CANDIDATES = {
    "k3-10": "3:10,3:10,3:10,3:10,3:10,3:10,3+skip",
    "k3-16": "3:16,3:16,3:16,3:16,3:16,3:16,3+skip",
    "k5-16-c5": "5:16,3:16,3:16,3:16,3:16,3:16,5+skip",  # SESR-M5's 5×5 sub-pixel layer
    "k3-24-16": "3:24,3:24,3:16,3:16,3:16,3:16,3+skip",
    "k3-32": "3:32,3:32,3:32,3:32,3:32,3:32,3+skip",
    "k5-48-24": "5:48,3:48,3:24,3:24,3:24,3:24,3+skip",
    "k5-64-32": "5:64,3:64,3:32,3:32,3:32,3:32,3+skip",
}


def spec_text(name: str) -> str:
    """What train.fit's --spec takes for a study candidate's name (a product name as it is)."""
    return STUDY_CANDIDATES.get(name, name)


def link_into(paths: list[Path], folder: Path) -> Path:
    """`folder` with a link to each of `paths` under its own name (those there already kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        link = folder / path.name
        if not link.exists():
            link.symlink_to(path.resolve())
    return folder


def training_folder() -> Path:
    """One folder of links to T91 + BSD200 (the classic SR training set), under runs/."""
    images = [
        image
        for subset in ("T91", "BSD200")
        for image in sorted((SHARED / "data" / "train" / subset).iterdir())
    ]
    return link_into(images, ROOT / "runs" / "data" / "t91_bsd200")


def copy_state(src: Path, dst: Path) -> None:
    """The files a run resumes from, `src` → `dst` (replacing what `dst` had)."""
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for name in STATE:
        if (src / name).is_dir():
            shutil.copytree(src / name, dst / name)
        elif (src / name).exists():
            shutil.copy2(src / name, dst / name)


def restore(run: Path, snapshot: Path) -> None:
    """A run missing from runs/ (a new work tree) is restored from its committed snapshot."""
    if not run.exists() and snapshot.is_dir():
        copy_state(snapshot, run)
        print(f"{run.name}: restored from {snapshot}")


def benchmark_psnr(model: Path, scale: int) -> dict[str, float]:
    """Set5 and Set14 Y-PSNR of one model file (.keras or .tflite), the published protocol."""
    from espcn_edge.evaluate import evaluate_models, load_images, load_model

    loaded, psnr = [load_model(str(model), scale)], {}
    for name, folder in BENCHMARK_SETS.items():
        (result,) = evaluate_models(loaded, load_images(folder, scale), scale)["models"].values()
        psnr[name] = result["mean_psnr"]
    return psnr
