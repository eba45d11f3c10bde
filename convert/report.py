"""The converter's report: what was written, what the ops are, and what quantization cost."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from espcn_edge.commandline import plural
from espcn_edge.evaluate import (
    EvalImage,
    bicubic_model,
    evaluate_models,
    keras_model,
    keras_upscale_y,
    y_model,
)
from espcn_edge.runtime import Upscaler


def _flat_centre(up, value: int, size: int = 64) -> dict:
    """Output for a flat `value` plane, away from the zero-padded borders."""
    out = up(np.full((size, size), value, np.uint8))
    m = out.shape[0] // 4
    c = out[m:-m, m:-m]
    return {"min": int(c.min()), "max": int(c.max()), "mean": round(float(c.mean()), 2)}


def white_level(model_path: Path, model) -> dict:
    """Flat black and white through the TFLite model and the Keras float model: with the
    converter's white-level handling, full white must come back 255 where the float model does."""
    tflite = Upscaler(model_path, threads=1, variant="plain").upscale_y
    result = {
        name: {"black": _flat_centre(up, 0), "white": _flat_centre(up, 255)}
        for name, up in (("tflite", tflite), ("float", keras_upscale_y(model)))
    }
    t, f = result["tflite"], result["float"]
    # one Y level of int8 noise is tolerated; what must not happen is a lost top or bottom
    result["ok"] = (
        t["white"]["max"] >= f["white"]["max"] - 1 and t["black"]["min"] <= f["black"]["min"] + 1
    )
    return result


def evaluate(model, tflite_paths: dict[str, Path], images: list[EvalImage], scale: int) -> dict:
    """Bicubic, the Keras float model and each TFLite file on `images`."""
    models = [bicubic_model(scale), keras_model(model, scale, "keras float")]
    models += [
        y_model(name, scale, Upscaler(p, scale=scale, variant="plain").upscale_y)
        for name, p in tflite_paths.items()
    ]
    return evaluate_models(models, images, scale)


def _io(d: dict) -> str:
    if not d["quantization"]:
        return d["dtype"]
    scale, zero_point = d["quantization"]
    inverse = 1.0 / scale
    shown = f"1/{round(inverse)}" if abs(inverse - round(inverse)) < 1e-3 else f"{scale:.6g}"
    return f"{d['dtype']} (scale {shown}, zero point {zero_point})"


def format_report(report: dict) -> str:
    lines = [
        f"wrote {report['out']}  ({report['file_size'] / 1024:.1f} KiB, {report['precision']}, "
        f"input {_io(report['input'])}, output {_io(report['output'])})",
        f"ops: {report['ops']}",
    ]
    if report["precision"] == "int8":
        clamp = report["options"]["pre_tanh_clamp"]
        lines.append(
            f"pre-tanh ranges clipped to ±{clamp}: {report['pre_tanh_ranges_clamped']}; "
            f"clip folded into ADD: {'yes' if report['clip_folded'] else 'no'}; "
            f"residual exact: {'yes' if report.get('residual_exact') else 'no'}"
        )
    white = report["white_level"]
    t, f = white["tflite"], white["float"]
    lines.append(
        f"white level (flat centre, min–max): 255 → {t['white']['min']}–{t['white']['max']} "
        f"(float {f['white']['min']}–{f['white']['max']}), 0 → {t['black']['min']}–"
        f"{t['black']['max']} (float {f['black']['min']}–{f['black']['max']})"
        + ("" if white["ok"] else "   ← WARNING: full white/black does not survive")
    )
    ev = report["evaluation"]
    images = plural(len(ev["images"]), "image")
    lines.append(f"\n×{ev['scale']} on {images} of {report['eval_data']}:")
    lines.append(f"  {'model':<16}{'Y-PSNR dB':>10}{'SSIM':>9}{'s/image':>9}")
    for name, m in ev["models"].items():
        psnr_, ssim_, secs = m["mean_psnr"], m["mean_ssim"], m["seconds_per_image"]
        lines.append(f"  {name:<16}{psnr_:>10.2f}{ssim_:>9.4f}{secs:>9.3f}")
    if "drop_db" in report:
        lines.append(
            f"  {report['precision']} drop vs Keras float: {report['drop_db']:.2f} dB "
            f"(vs bicubic: {report['gain_over_bicubic_db']:+.2f} dB)"
        )
    if report.get("eval_default"):
        lines.append(
            "  a quick check; for the published protocol add --eval-data "
            "../shared/data/benchmark/Set5 (or Set14)"
        )
    return "\n".join(lines)
