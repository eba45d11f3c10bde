"""Training on two workers (MultiWorkerMirroredStrategy, two processes on 127.0.0.1): one worker
is SIGKILLed mid-run, the other stops with one line, both restart with --resume and finish the
planned steps with identical weights; only the chief writes files."""

from __future__ import annotations

import csv
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakes import tiny_model

tf = pytest.importorskip("tensorflow")

ROOT = Path(__file__).resolve().parents[1]
EPOCHS, STEPS = 3, 6


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_workers(outs: list[Path], logs: Path, common: list[str]) -> list[subprocess.Popen]:
    """One `python -m train.fit` per worker, worker i writing (if at all) to outs[i]."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(len(outs))]}
    workers = []
    for i, out in enumerate(outs):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        env = {**os.environ, "TF_CONFIG": tf_config, "TF_CPP_MIN_LOG_LEVEL": "3"}
        command = [sys.executable, "-m", "train.fit", *common, "--out", str(out)]
        with open(logs / f"w{i}.out", "w") as stdout, open(logs / f"w{i}.err", "w") as stderr:
            workers.append(
                subprocess.Popen(command, cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
            )
    return workers


def _history(out: Path) -> list[int]:
    with open(out / "history.csv") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def test_two_workers_killed_and_resumed_finish_the_plan_with_identical_weights(
    tmp_path, div2k_onthefly
):
    import keras

    import espcn_edge  # noqa: F401  (registers the custom layers)
    from train.loop import weights_digest

    chief_out, other_out = tmp_path / "run", tmp_path / "worker1"
    outs = [chief_out, other_out]  # on one machine; on several, every worker gets the same path
    common = [
        "--data", str(div2k_onthefly), "--scale", "2", "--spec", tiny_model.SPEC,
        "--epochs", str(EPOCHS), "--steps-per-epoch", str(STEPS), "--patch-size", "16",
        "--batch-size", "8",
    ]  # fmt: skip
    workers = _start_workers(outs, tmp_path, common)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and all(w.poll() is None for w in workers):
            if (chief_out / "backup" / "training_metadata.json").exists():  # an epoch is done
                break
            time.sleep(0.05)
        workers[1].kill()
        chief_status = workers[0].wait(timeout=60)  # it notices the lost peer by itself
    finally:
        for w in workers:
            w.kill()
            w.wait()
    errors = (tmp_path / "w0.err").read_text().strip().splitlines()
    assert chief_status == 1, errors[-5:]
    assert errors[-1].startswith("python -m train.fit: training stopped inside TensorFlow (") and (
        "--resume" in errors[-1]
    ), errors[-1]
    assert 1 <= len(_history(chief_out)) < EPOCHS, "the kill did not land mid-run"

    workers = _start_workers(outs, tmp_path, [*common, "--resume"])
    try:
        statuses = [w.wait(timeout=240) for w in workers]
    finally:
        for w in workers:
            w.kill()
    reports = [(tmp_path / f"w{i}.out").read_text() for i in range(2)]
    assert statuses == [0, 0], [(tmp_path / f"w{i}.err").read_text()[-2000:] for i in range(2)]
    finals = [
        re.search(r"(\d+) steps on 2 replica\(s\), weights (\w+)", report).groups()
        for report in reports
    ]
    assert [steps for steps, _ in finals] == [str(EPOCHS * STEPS)] * 2
    chief_model = keras.models.load_model(chief_out / "last.keras")
    assert finals[0][1] == finals[1][1] == weights_digest(chief_model)
    assert keras.models.load_model(chief_out / "best.keras").output.shape[-1] == 1
    assert _history(chief_out) == list(range(EPOCHS))
    assert json.loads((chief_out / "card.json").read_text())["planned_steps"] == EPOCHS * STEPS
    assert not (chief_out / "backup").exists()
    assert not other_out.exists(), "a worker other than the chief wrote files"
    keras.backend.clear_session()


ONE_STEP_ON_TWO_REPLICAS = """
import sys
import keras, numpy as np, tensorflow as tf
from espcn_edge.model import build_espcn
from espcn_edge.spec import parse_spec
from train.loop import distributed_step

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
rng = np.random.default_rng(0)
batch = rng.random((8, 12, 12, 1), np.float32), rng.random((8, 24, 24, 1), np.float32)
start, results = None, []
for strategy in (tf.distribute.get_strategy(), tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"])):
    with strategy.scope():
        model = build_espcn(2, parse_spec(sys.argv[1]))
        model.compile(keras.optimizers.SGD(0.5), loss="mse")  # plain SGD: the step ∝ gradient
    start = start or model.get_weights()
    model.set_weights(start)
    replicas = next(iter(strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensors(batch))))
    loss = float(distributed_step(model, strategy)(replicas))
    results.append((loss, model.get_weights()))
(one_loss, one), (two_loss, two) = results
moved = max(np.abs(a - b).max() for a, b in zip(one, start))
apart = max(np.abs(a - b).max() for a, b in zip(one, two))
print(one_loss, two_loss, moved, apart)
"""


def test_a_step_on_two_replicas_equals_a_step_on_one_device_on_the_global_batch():
    """The per-replica loss is scaled to the global batch: summed over the replicas, the
    gradients (and so the SGD update) are those of the whole batch on one device."""
    r = subprocess.run(
        [sys.executable, "-c", ONE_STEP_ON_TWO_REPLICAS, tiny_model.SPEC],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)},
    )
    assert r.returncode == 0, r.stderr[-2000:]
    one_loss, two_loss, moved, apart = map(float, r.stdout.split())
    assert abs(one_loss - two_loss) < 1e-6 * one_loss
    assert moved > 1e-4 and apart < 1e-3 * moved, (moved, apart)


def test_tensorflow_errors_are_one_line_without_graph_nodes():
    from train.fit import tensorflow_error_gist

    @tf.function(input_signature=[tf.TensorSpec(None, tf.float32)])
    def reshape(x):
        return tf.reshape(x, (7,))

    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        reshape(tf.zeros((2, 3)))
    assert "\n" in caught.value.message and "node" in caught.value.message
    assert tensorflow_error_gist(caught.value) == (
        "InvalidArgumentError: Input to reshape is a tensor with 6 values, "
        "but the requested shape has 7"
    )
    assert (
        tensorflow_error_gist(caught.value, limit=30)
        == "InvalidArgumentError: Input to reshape is a tensor …"
    )
