"""Paths shared by the benchmark scripts: ../shared beside the project, the training folder."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
BENCHMARK_SETS = {name: SHARED / "data" / "benchmark" / name for name in ("Set5", "Set14")}
PEERS = SHARED / "peers" / "opencv_dnn_superres"


def training_folder() -> Path:
    """One folder of links to T91 + BSD200 (the classic SR training set), under runs/."""
    folder = ROOT / "runs" / "data" / "t91_bsd200"
    folder.mkdir(parents=True, exist_ok=True)
    for subset in ("T91", "BSD200"):
        for image in sorted((SHARED / "data" / "train" / subset).iterdir()):
            link = folder / image.name
            if not link.exists():
                link.symlink_to(image)
    return folder
