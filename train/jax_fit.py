"""The float stage of `train.budget --backend jax`, for an accelerator with JAX and no TensorFlow.

The same network, data, patches, loss and optimizer as `train.fit --reparam sesr
--device-patches`, on Keras's JAX backend (KERAS_BACKEND=jax): training planes uploaded once,
patches cut inside the compiled step (`train.crops`), and many steps in one compiled call
(`lax.fori_loop`), so the host does not wait on each step. Every epoch ends with the validation
PSNR (`train.callbacks.mean_psnr`); OUT gets best.keras (the collapsed plain network, loadable by
TensorFlow's Keras), card.json and history.csv as train.fit writes them, and last.keras at most
once a minute and at the end. Quantization-aware training then runs where TensorFlow is.
"""

from __future__ import annotations

import csv
import io
import json
import platform
import time

import jax
import keras
import numpy as np

import espcn_edge
from espcn_edge.atomic import write_text
from espcn_edge.model import build_espcn
from train.callbacks import bicubic_psnr, mean_psnr, save_atomically, upscale_y
from train.crops import Packed, cut_batch, pack
from train.fit import FitConfig, init_from, run_card
from train.losses import make_loss
from train.pairs import training_planes
from train.precision import dtype_policy
from train.reparam import collapse_into, reparam_conv

LAST_EVERY_S = 60


def _steps_per_call(steps_per_epoch: int, most: int = 500) -> int:
    """The largest divisor of an epoch's steps up to `most`: one compiled call runs them all."""
    return max(d for d in range(1, min(most, steps_per_epoch) + 1) if steps_per_epoch % d == 0)


def train(cfg: FitConfig, policy: str = "mixed_bfloat16") -> dict:
    """Train `cfg` (float, re-parameterized or plain) into cfg.out; returns its model card."""
    if keras.backend.backend() != "jax":
        raise RuntimeError("train.jax_fit needs KERAS_BACKEND=jax set before Keras is imported")
    scale, spec, b, p = cfg.scale, cfg.spec, cfg.batch_size, cfg.patch_size
    train_images, valid = training_planes(cfg.data, scale, p, cfg.multiscale)
    with dtype_policy(policy):
        model = build_espcn(scale, spec, conv=reparam_conv(cfg.reparam), head_dtype="float32")
    plain = build_espcn(scale, spec)
    if cfg.init_from:
        init_from(model, cfg.init_from, spec)
    total = cfg.epochs * cfg.steps_per_epoch
    optimizer = keras.optimizers.Adam(
        keras.optimizers.schedules.CosineDecay(cfg.lr, total, alpha=0.02)
    )
    optimizer.build(model.trainable_variables)
    pixel_loss = make_loss(cfg.loss)
    lr_planes, hr_planes = (
        Packed(*map(jax.device_put, pack([pair[i] for pair in train_images]))) for i in (0, 1)
    )

    def loss_of(trainable, non_trainable, lr, hr):
        sr, non_trainable = model.stateless_call(trainable, non_trainable, lr, training=True)
        return keras.ops.mean(pixel_loss(hr, sr)), non_trainable

    gradient = jax.value_and_grad(loss_of, has_aux=True)
    per_call = _steps_per_call(cfg.steps_per_epoch)

    @jax.jit
    def run_steps(trainable, non_trainable, opt, key, lr_planes, hr_planes):
        def step(_, carry):
            trainable, non_trainable, opt, key, loss_sum = carry
            key, draw = jax.random.split(key)
            lr, hr = cut_batch(lr_planes, hr_planes, jax.random.uniform(draw, (4, b)), scale, p)
            (loss, non_trainable), grads = gradient(trainable, non_trainable, lr, hr)
            trainable, opt = optimizer.stateless_apply(opt, grads, trainable)
            return trainable, non_trainable, opt, key, loss_sum + loss

        return jax.lax.fori_loop(0, per_call, step, (trainable, non_trainable, opt, key, 0.0))

    @jax.jit
    def predict(trainable, non_trainable, x):
        return model.stateless_call(trainable, non_trainable, x, training=False)[0]

    card = {
        **run_card(cfg, cfg.data, train_images, valid, bicubic_psnr(valid, scale), policy, True),
        "backend": "jax",
        "device": str(jax.devices()[0].device_kind),
        "versions": {"espcn_edge": espcn_edge.__version__, "jax": jax.__version__,
                     "keras": keras.__version__, "python": platform.python_version()},
    }  # fmt: skip
    print(
        f"{len(train_images)} training / {len(valid)} validation images, ×{scale}, spec "
        f"{spec.name} ({card['macs_per_lr_pixel']} MAC/LR px); bicubic val_psnr "
        f"{card['bicubic_val_psnr']:.2f} dB; {policy}, JAX on {card['device']}, "
        f"{per_call} steps per compiled call",
        flush=True,
    )
    cfg.out.mkdir(parents=True, exist_ok=True)
    variables = (model.trainable_variables, model.non_trainable_variables, optimizer.variables)
    state = [[v.value for v in vs] for vs in variables]
    key, best, history, last_saved = jax.random.PRNGKey(0), -np.inf, [], time.monotonic()
    for epoch in range(1, cfg.epochs + 1):
        start, loss_sum = time.monotonic(), 0.0
        for _ in range(cfg.steps_per_epoch // per_call):
            *state, key, call_loss = run_steps(*state, key, lr_planes, hr_planes)
            loss_sum += call_loss
        loss = float(loss_sum) / cfg.steps_per_epoch  # waits for the epoch's last call
        seconds = time.monotonic() - start

        def network(x, training=False, weights=tuple(state[:2])):
            return predict(*weights, x)

        val = mean_psnr(lambda lr: upscale_y(network, lr), valid, scale)
        history.append({"epoch": epoch - 1, "loss": loss, "val_psnr": val, "seconds": seconds})
        print(f"Epoch {epoch}/{cfg.epochs}: {cfg.steps_per_epoch / seconds:,.0f} steps/s, "
              f"loss {loss:.6f}, val_psnr {val:.4f}", flush=True)  # fmt: skip
        improved, due = val > best, time.monotonic() - last_saved > LAST_EVERY_S
        if improved or due or epoch == cfg.epochs:
            for variable, value in zip(model.trainable_variables, state[0], strict=True):
                variable.assign(value)
            collapse_into(model, plain)
        if improved:
            best = val
            save_atomically(plain, cfg.out / "best.keras")
            card.update(best_val_psnr=round(val, 3), epoch=epoch, steps=epoch * cfg.steps_per_epoch,
                        saved=time.strftime("%Y-%m-%dT%H:%M:%S"))  # fmt: skip
            write_text(cfg.out / "card.json", json.dumps(card, indent=2))
        if due or epoch == cfg.epochs:
            save_atomically(plain, cfg.out / "last.keras")
            last_saved = time.monotonic()
            _write_history(cfg.out / "history.csv", history)
    return card


def _write_history(path, rows: list[dict]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, text.getvalue())
