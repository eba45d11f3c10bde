"""Choosing a tf.distribute strategy: one device, several GPUs, or several workers."""

from __future__ import annotations

import logging
import os

import tensorflow as tf

log = logging.getLogger(__name__)


def choose_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """`auto`: MultiWorkerMirrored when TF_CONFIG is set, Mirrored when several GPUs are
    visible, else the default. `mirrored` with no GPU splits the CPU into two logical devices,
    which exercises the multi-replica path on any machine. Call before TensorFlow runs an op."""
    gpus = tf.config.list_physical_devices("GPU")
    if name == "auto":
        name = (
            "multiworker"
            if "TF_CONFIG" in os.environ
            else "mirrored"
            if len(gpus) > 1
            else "default"
        )
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        if gpus:
            return tf.distribute.MirroredStrategy()
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.get_strategy()
