"""--progressive: the first epochs train on shrunk faces, with the net's own weights."""

import io
import json

import keras
import numpy as np
import pytest

from ferkit.models import build_fast
from ferkit.train.cli import train_main
from ferkit.train.progressive import ProgressiveResolution
from ferkit.train.stages import parse_progressive, size_at


def test_a_schedule_reads_as_sizes_and_epochs():
    stages = parse_progressive("24:3, 36:2")
    assert stages == ((24, 3), (36, 2))
    assert [size_at(stages, e) for e in range(7)] == [24, 24, 24, 36, 36, 48, 48]
    assert parse_progressive("") == ()


@pytest.mark.parametrize(
    "spec, problem",
    [
        ("32", "SIZE:EPOCHS"),
        ("32:x", "SIZE:EPOCHS"),
        ("48:3", "outside 16-47"),
        ("8:3", "outside 16-47"),
        ("32:0", "at least 1"),
        ("40:2,32:2", "must grow"),
    ],
)
def test_a_bad_schedule_says_what_is_wrong(spec, problem):
    with pytest.raises(ValueError, match=problem):
        parse_progressive(spec)


def test_shrunk_faces_train_the_nets_own_weights():
    net = build_fast()
    wrapper = ProgressiveResolution(net)
    wrapper.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).integers(0, 256, (16, 48, 48, 1)).astype("uint8")
    y = np.arange(16) % 7
    before = [w.numpy().copy() for w in net.weights]
    wrapper.size = 24
    seen = []
    view = wrapper._views(24)
    original = view.call
    view.call = lambda inputs, *a, **k: seen.append(inputs.shape[1]) or original(inputs, *a, **k)
    wrapper.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert seen and set(seen) == {24}  # the training step saw 24-pixel faces
    assert len(wrapper.weights) == len(net.weights)  # shared, not copied
    changed = [not np.allclose(b, w.numpy()) for b, w in zip(before, net.weights)]
    assert all(changed)
    # Prediction stays at full size and is the net's.
    np.testing.assert_allclose(wrapper.predict(x, verbose=0), net.predict(x, verbose=0))


def test_a_progressive_run_trains_small_then_full_and_saves_the_plain_net(homework, tmp_path):
    data_dir, _ = homework
    m = tmp_path / "models"
    argv = ["--data", str(data_dir), "--models-dir", str(m), "--figures-dir", str(tmp_path / "f")]
    argv += ["--model", "fast", "--epochs", "3", "--progressive", "24:1,36:1", "--name", "prog"]
    out = io.StringIO()
    from contextlib import redirect_stdout

    with redirect_stdout(out):
        train_main("cnn", argv)
    said = out.getvalue()
    assert "training on 24x24 faces from epoch 1" in said
    assert "training on 36x36 faces from epoch 2" in said
    assert "training on 48x48 faces from epoch 3" in said
    record = json.loads((m / "prog.json").read_text())
    assert record["config"]["progressive"] == "24:1,36:1"
    assert record["recipe_changes"]["progressive"] == "24:1,36:1"
    assert "--progressive 24:1,36:1" in record["command"]
    assert len(record["history"]) == 3
    saved = keras.saving.load_model(m / "prog.keras")
    assert saved.name == "fast" and saved.input_shape == (None, 48, 48, 1)


@pytest.mark.parametrize(
    "flags, problem",
    [
        (["--progressive", "32"], "SIZE:EPOCHS"),
        (["--model", "cnn", "--progressive", "32:2"], "needs 48-pixel faces"),
        (["--model", "fast", "--progressive", "32:2", "--budget-minutes", "3"], "--epochs"),
    ],
)
def test_progressive_flags_that_cannot_run_are_refused(homework, capsys, flags, problem):
    data_dir, _ = homework
    with pytest.raises(SystemExit) as stop:
        train_main("cnn", ["--data", str(data_dir), *flags])
    assert stop.value.code == 2
    assert problem in capsys.readouterr().err
