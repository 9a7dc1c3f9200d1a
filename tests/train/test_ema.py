"""--ema: validation, checkpoints and backups hold the averaged weights; training goes
on from its own."""

import io
import json
from contextlib import redirect_stdout

import keras
import numpy as np
import pytest

from ferkit.train.cli import train_main
from ferkit.train.optim import ema_callback, make_optimizer


def _net():
    """A one-layer net whose average of the weights barely moves from the first step's:
    a momentum this near 1 keeps it there."""
    inputs = keras.Input((4,))
    net = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    net.compile(make_optimizer("adamw", 0.1, ema=0.999999), "sparse_categorical_crossentropy")
    return net


def _weights(model):
    return [w.numpy().copy() for w in model.trainable_weights]


def _recorder(model, into, when="on_epoch_end"):
    return keras.callbacks.LambdaCallback(**{when: lambda *_: into.append(_weights(model))})


def _same(a, b):
    return all(np.allclose(x, y, atol=1e-4) for x, y in zip(a, b))


def test_epochs_end_with_the_average_swapped_in_and_train_on_their_own_weights():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = np.arange(64) % 3
    model = _net()
    raw, averaged, begun = [], [], []
    model.fit(
        x,
        y,
        epochs=3,
        batch_size=8,
        verbose=0,
        callbacks=[
            _recorder(model, raw),  # before the swap: the weights being trained
            ema_callback(resumed=False),
            _recorder(model, averaged),  # after it: what checkpoints and backups see
            _recorder(model, begun, "on_epoch_begin"),
        ],
    )
    assert _same(averaged[0], averaged[2])  # the average barely moved
    assert not _same(raw[0], raw[2])  # while the weights trained on
    assert not _same(averaged[2], raw[2])
    assert _same(begun[1], raw[0]) and _same(begun[2], raw[1])  # swapped back each epoch


class _Killed(Exception):
    pass


def test_a_run_killed_and_resumed_goes_on_from_its_trained_weights(tmp_path):
    # The backup is written with the average swapped in, as at every epoch's end; the
    # resumed run must swap it out before its first epoch.
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = np.arange(64) % 3
    model = _net()
    raw = []

    def kill(epoch, _):
        if epoch == 2:
            raise _Killed

    backup = keras.callbacks.BackupAndRestore(tmp_path / "backup")
    first = [_recorder(model, raw), ema_callback(False), backup]
    with pytest.raises(_Killed):
        model.fit(x, y, epochs=4, batch_size=8, verbose=0, callbacks=[*first, _kill(kill)])

    again = _net()
    begun = []
    backup = keras.callbacks.BackupAndRestore(tmp_path / "backup")
    second = [ema_callback(True), backup, _recorder(again, begun, "on_epoch_begin")]
    again.fit(x, y, epochs=4, batch_size=8, verbose=0, callbacks=second)
    assert len(begun) == 2  # epochs 3 and 4
    assert _same(begun[0], raw[1])  # the trained weights of epoch 2, not their average


def _kill(at):
    return keras.callbacks.LambdaCallback(on_epoch_begin=at)


def test_a_run_with_ema_and_a_short_warmup_records_them(homework, tmp_path):
    data_dir, _ = homework
    m = tmp_path / "models"
    argv = ["--data", str(data_dir), "--models-dir", str(m), "--figures-dir", str(tmp_path / "f")]
    argv += ["--recipe", "fast", "--epochs", "2", "--precision", "float32", "--name", "e"]
    argv += ["--ema", "0.9", "--warmup", "0.1"]
    with redirect_stdout(io.StringIO()):
        train_main("cnn", argv)
    record = json.loads((m / "e.json").read_text())
    assert record["config"]["ema"] == 0.9 and record["config"]["warmup"] == 0.1
    assert record["recipe_changes"]["ema"] == 0.9
    assert "--ema 0.9" in record["command"] and "--warmup 0.1" in record["command"]
    assert len(record["history"]) == 2
