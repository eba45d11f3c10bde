"""Training callbacks: validation PSNR by the project's metric, atomic checkpoints, model card."""

from __future__ import annotations

import json
import platform
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


class ValidationPSNR(keras.callbacks.Callback):
    """Adds `val_psnr` (dB) to the epoch logs, so CSV/TensorBoard/checkpoints all see it."""

    def __init__(self, images: list[tuple[np.ndarray, np.ndarray]], scale: int):
        super().__init__()
        self.images, self.scale = images, scale

    def on_epoch_end(self, epoch, logs=None):
        value = mean_psnr(lambda lr: upscale_y(self.model, lr), self.images, self.scale)
        if logs is not None:
            logs["val_psnr"] = value


class Checkpoints(keras.callbacks.Callback):
    """Writes last.keras every epoch and best.keras + card.json when val_psnr improves,
    each atomically (temp file, then rename)."""

    def __init__(self, out: Path, card: dict, export=lambda model: model, best: float = -np.inf):
        super().__init__()
        self.out, self.card, self.export, self.best = out, card, export, best

    def _save(self, name: str) -> None:
        with atomic_path(self.out / name) as tmp:
            self.export(self.model).save(tmp)

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


def versions() -> dict:
    import tensorflow as tf

    return {
        "espcn_edge": espcn_edge.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
    }
