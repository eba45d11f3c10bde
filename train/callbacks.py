"""Training callbacks: validation PSNR by the project's metric, atomic checkpoints, model card."""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from pathlib import Path

import keras
import numpy as np

import espcn_edge
from espcn_edge.atomic import atomic_path, write_text
from espcn_edge.color import float_to_y, resize_bicubic, y_to_float
from espcn_edge.metrics import psnr


def upscale_y(model: keras.Model, lr: np.ndarray) -> np.ndarray:
    """Run the Keras model on one uint8 Y plane, returning uint8 Y (the runtime's rounding)."""
    return float_to_y(model(y_to_float(lr)[None, ..., None], training=False)[0, ..., 0])


def mean_psnr(upscale, images: list[tuple[np.ndarray, np.ndarray]], scale: int) -> float:
    """Mean Y-PSNR (full-range Y, `scale` px shaved) of `upscale(lr_y)` over (LR, HR) planes."""
    return float(np.mean([psnr(upscale(lr), hr, shave=scale) for lr, hr in images]))


def bicubic_psnr(images: list[tuple[np.ndarray, np.ndarray]], scale: int) -> float:
    return mean_psnr(
        lambda lr: resize_bicubic(lr, (lr.shape[1] * scale, lr.shape[0] * scale)), images, scale
    )


class StopOnSignal(keras.callbacks.Callback):
    """Raises the Ctrl-C or SIGTERM that `interrupt.deferred` noted, after a training step:
    there Python runs, not TensorFlow's C++, and the epoch's files are whole."""

    def __init__(self, check):
        super().__init__()
        self._check = check

    def on_train_batch_end(self, batch, logs=None):
        self._check()


class ValidationPSNR(keras.callbacks.Callback):
    """Adds `val_psnr` (dB) to the epoch logs, so CSV/TensorBoard/checkpoints all see it."""

    def __init__(self, images: list[tuple[np.ndarray, np.ndarray]], scale: int):
        super().__init__()
        self.images, self.scale = images, scale

    def on_epoch_end(self, epoch, logs=None):
        value = mean_psnr(lambda lr: upscale_y(self.model, lr), self.images, self.scale)
        if logs is not None:
            logs["val_psnr"] = value


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' BackupAndRestore with every file written atomically, and removed at the end by one
    rename: a SIGKILL at any moment leaves the last complete backup (or none once finished).

    Keras writes the weights and then the epoch metadata in place, so a kill in between left new
    weights without metadata (the resumed run restarted at epoch 0) and a kill during the final
    rmtree left a half-deleted backup. Here the weights go first, then the metadata, each atomic:
    the worst case is an epoch trained again from slightly newer weights.
    """

    def __init__(self, backup_dir: str | os.PathLike):
        super().__init__(str(backup_dir), double_checkpoint=False)

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        with atomic_path(self._weights_path, suffix=".weights.h5") as tmp:
            self.model.save_weights(str(tmp), overwrite=True)
        metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        write_text(self._training_metadata_path, json.dumps(metadata))

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            finished = finished_backup(self.backup_dir)
            shutil.rmtree(finished, ignore_errors=True)
            os.replace(self.backup_dir, finished)  # atomic: the run is complete from here
            shutil.rmtree(finished, ignore_errors=True)


def finished_backup(backup_dir: str | os.PathLike) -> Path:
    """Where a finished run's backup is moved before deletion (removed again on the next start)."""
    backup_dir = Path(backup_dir)
    return backup_dir.with_name(f".{backup_dir.name}.finished")


class Checkpoints(keras.callbacks.Callback):
    """Writes last.keras every epoch and best.keras + card.json when val_psnr improves,
    each atomically (temp file, then rename)."""

    def __init__(self, out: Path, card: dict, export=lambda model: model, best: float = -np.inf):
        super().__init__()
        self.out, self.card, self.export, self.best = out, card, export, best

    def _save(self, name: str) -> None:
        save_atomically(self.export(self.model), self.out / name)

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get("val_psnr", -np.inf)
        self._save("last.keras")
        if value > self.best:
            self.best = value
            self._save("best.keras")
            self.card.update(
                best_val_psnr=round(float(value), 3),
                epoch=epoch + 1,
                steps=int(self.model.optimizer.iterations.numpy()),
                saved=time.strftime("%Y-%m-%dT%H:%M:%S"),
            )
            write_text(self.out / "card.json", json.dumps(self.card, indent=2))


def save_atomically(model: keras.Model, path: Path) -> None:
    """`model.save` to a temporary file, then renamed to `path`."""
    with atomic_path(path) as tmp:
        model.save(tmp)


def versions() -> dict:
    import tensorflow as tf

    return {
        "espcn_edge": espcn_edge.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
    }
