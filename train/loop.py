"""Training on several machines: Keras 3's `fit` does not support MultiWorkerMirroredStrategy
(keras-team/keras#20585), so this loop stands in for it there.

It drives the same compiled model, optimizer and loss, the same `DataGenerator` dataset and the
same Keras callbacks as `model.fit`, with a distributed step: `strategy.run` inside a
`tf.function`. Only the chief is given the callbacks that write files (`train.fit`); the chief's
restored backup is sent to every worker before the first step, so any worker can be restarted.
"""

from __future__ import annotations

import hashlib

import keras
import numpy as np
import tensorflow as tf


def fit(
    model: keras.Model,
    dataset: tf.data.Dataset,
    strategy: tf.distribute.Strategy,
    *,
    epochs: int,
    steps_per_epoch: int,
    callbacks: list[keras.callbacks.Callback],
    verbose: int,
) -> None:
    """`model.fit(dataset, epochs=…, steps_per_epoch=…, callbacks=…)` under `strategy`.

    The callbacks are called as fit calls them, with the epoch's mean `loss` in the logs, and the
    run starts at the epoch a BackupAndRestore callback restored (`model._initial_epoch`, which is
    how Keras' own fit learns it).
    """
    callbacks = keras.callbacks.CallbackList(
        callbacks,
        add_history=True,
        add_progbar=verbose != 0,
        model=model,
        verbose=verbose,
        epochs=epochs,
        steps=steps_per_epoch,
    )
    with strategy.scope():
        model.optimizer.build(model.trainable_variables)  # its state is restored and broadcast
    callbacks.on_train_begin()
    first_epoch = _take_chiefs_state(strategy, model, model._initial_epoch or 0)
    step = distributed_step(model, strategy)
    batches = iter(strategy.experimental_distribute_dataset(_unsharded(dataset)))
    logs: dict = {}
    for epoch in range(first_epoch, epochs):
        callbacks.on_epoch_begin(epoch)
        total = 0.0
        for batch in range(steps_per_epoch):
            callbacks.on_train_batch_begin(batch)
            total += float(step(next(batches)))
            logs = {"loss": total / (batch + 1)}  # the running mean, as fit reports it
            callbacks.on_train_batch_end(batch, logs)
        callbacks.on_epoch_end(epoch, logs)
    callbacks.on_train_end(logs)
    task = strategy.cluster_resolver
    print(
        f"{task.task_type or 'worker'} {task.task_id or 0}: "
        f"{int(model.optimizer.iterations.numpy())} steps on {strategy.num_replicas_in_sync} "
        f"replica(s), weights {weights_digest(model)}"
    )


def distributed_step(model: keras.Model, strategy: tf.distribute.Strategy):
    """One optimizer step on one global batch; returns that batch's mean loss.

    The compiled loss (`model.compute_loss`) is each replica's mean divided by the number of
    replicas, i.e. its share of the global batch's mean, and `apply_gradients` sums the replicas'
    gradients: the update is the gradient of the global batch's mean loss, as on one device.
    With `jit_compile` only the gradients are compiled by XLA, which has no collectives on CPU.
    """

    @tf.function(jit_compile=model.jit_compile, reduce_retracing=True)
    def gradients(lr: tf.Tensor, hr: tf.Tensor) -> tuple[tf.Tensor, list[tf.Tensor]]:
        with tf.GradientTape() as tape:
            sr = model(lr, training=True)
            loss = model.compute_loss(x=lr, y=hr, y_pred=sr, training=True)
        return loss, tape.gradient(loss, model.trainable_variables)

    def replica_step(lr: tf.Tensor, hr: tf.Tensor) -> tf.Tensor:
        loss, grads = gradients(lr, hr)
        model.optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function(reduce_retracing=True)
    def step(batch: tuple) -> tf.Tensor:
        per_replica = strategy.run(replica_step, args=batch)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return step


def _take_chiefs_state(strategy: tf.distribute.Strategy, model: keras.Model, epoch: int) -> int:
    """Give every worker the chief's weights, optimizer state and epoch; return the epoch.

    Only the chief restores a backup (the other workers write none), so a restarted worker, on
    any machine, continues from exactly where the chief does. A broadcast is an all-reduce sum
    to which only the first replica (on the chief) contributes, in float64 (one dtype per
    all-reduce; exact for the float32 weights and the int64 step and epoch counts).
    """
    variables = [v.value for v in [*model.weights, *model.optimizer.variables]]

    def replica_share(values: list[tf.Tensor]) -> list[tf.Tensor]:
        context = tf.distribute.get_replica_context()
        first = context.replica_id_in_sync_group == 0
        shares = [tf.where(first, v, tf.zeros_like(v)) for v in values]
        return context.all_reduce(tf.distribute.ReduceOp.SUM, shares)

    @tf.function
    def broadcast() -> list:
        values = [tf.constant(epoch, tf.float64), *(tf.cast(v, tf.float64) for v in variables)]
        return strategy.run(replica_share, args=(values,))

    chiefs_epoch, *values = strategy.experimental_local_results(broadcast())[0]
    for variable, value in zip(variables, values, strict=True):
        variable.assign(tf.cast(value, variable.dtype))
    return int(chiefs_epoch)


def _unsharded(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Every worker draws its own random patches: sharding would only make each worker skip
    all but every n-th of its batches."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.with_options(options)


def weights_digest(model: keras.Model) -> str:
    """A short hash of the model's weights: equal on every worker after a correct run."""
    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights, np.float32).tobytes())
    return digest.hexdigest()[:16]
