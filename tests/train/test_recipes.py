"""Training options beyond the reference recipe: recipes, optimizers, schedules,
augmentation, mixup, label smoothing, class weights, precision, TTA."""

import json
from dataclasses import asdict

import keras
import numpy as np
import pytest

from ferkit import ARCHITECTURES
from ferkit.augment import parse_augment
from ferkit.cards import train_command
from ferkit.evaluate import predict_probs, tta_views
from ferkit.models import BUILDERS, count_params
from ferkit.report import recipe_text
from ferkit.train.cli import resolve_config, train_main, train_parser
from ferkit.train.config import TrainConfig
from ferkit.train.optim import make_schedule
from ferkit.train.pipeline import class_weights, make_dataset
from ferkit.train.recipes import (
    FLOAT32,
    RECIPE_SETTINGS,
    RECIPES,
    recipe_changes,
    reproducing_command,
    resolve,
)


def test_architectures_listed_without_keras_match_the_builders():
    assert set(ARCHITECTURES) == set(BUILDERS)


def test_recipe_then_flags_override_the_reference():
    assert resolve("cnn") == TrainConfig(recipe="reference")
    fast = resolve("cnn", "fast", "bfloat16")
    assert (fast.model, fast.optimizer, fast.schedule) == ("fast", "adamw", "onecycle")
    assert fast.learning_rate == RECIPES["fast"]["learning_rate"]
    # In float32 the recipe takes its float32 settings; a flag still beats them.
    in_float32 = resolve("cnn", "fast", "float32")
    assert in_float32.batch_size == FLOAT32["fast"]["batch_size"] != fast.batch_size
    assert in_float32.optimizer == "adamw"
    assert resolve("cnn", "fast", "float32", batch_size=64).batch_size == 64
    # A flag beats the recipe; a new optimizer brings its own learning rate.
    sgd = resolve("cnn", "fast", optimizer="sgd", epochs=3)
    assert (sgd.optimizer, sgd.learning_rate, sgd.epochs) == ("sgd", 0.05, 3)
    assert resolve("dnn", None, optimizer="adam").learning_rate == 1e-3
    assert resolve("dnn", "fast", lr=None).model == "fast"


def test_a_run_of_a_recipe_changed_since_is_told_with_the_flags_it_had():
    # A run of an earlier fast recipe: today's recipe names these settings otherwise.
    then = {"epochs": 7, "batch_size": 32, "learning_rate": 0.125, "augment": "none"}
    ran = {**asdict(resolve("cnn", "fast", "bfloat16")), **then, "precision": "bfloat16"}
    assert recipe_changes(ran, "bfloat16") == {**then, "precision": "bfloat16"}
    command = reproducing_command(
        "python train_cnn.py --recipe fast --augment none --precision bfloat16", ran, "bfloat16"
    )
    assert command.endswith("--precision bfloat16 --epochs 7 --batch-size 32 --lr 0.125")
    # The flags added give the run back.
    p = train_parser("cnn")
    args = p.parse_args(command.split()[2:])
    again = asdict(resolve_config(p, args, "cnn"))
    assert {k: again[k] for k in RECIPE_SETTINGS} == {k: ran[k] for k in RECIPE_SETTINGS}
    record = {
        "name": "fast",
        "config": ran,
        "command": "python train_cnn.py --recipe fast --precision bfloat16",
        "precision": {"asked": "bfloat16", "used": "bfloat16"},
    }
    assert recipe_text(record).startswith("fast (epochs 7, batch size 32, learning rate 0.125")
    assert train_command(record).endswith("--augment none")


def test_augment_presets_and_lists():
    assert parse_augment("none") == ()
    assert parse_augment("zoom, flip") == ("flip", "zoom")
    assert parse_augment("strong") == ("flip", "shift", "rotate", "zoom", "erase")
    with pytest.raises(ValueError, match="unknown augmentation blur"):
        parse_augment("flip,blur")


def test_augmentation_is_active_in_training_only():
    model = BUILDERS["cnn"](augment=parse_augment("strong"))
    assert count_params(model) == count_params(BUILDERS["cnn"]())
    last = [layer for layer in model.layers if layer.name.startswith("augment_")][-1]
    front = keras.Model(model.input, last.output)
    x = np.random.default_rng(0).integers(0, 256, (8, 48, 48, 1)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(front(x, training=False)), x / 255, atol=1e-6)
    assert not np.allclose(np.asarray(front(x, training=True)), x / 255, atol=1e-3)
    np.testing.assert_array_equal(
        np.asarray(model(x, training=False)), np.asarray(model(x, training=False))
    )


def test_onecycle_warms_up_then_anneals_and_cosine_falls():
    s = make_schedule("onecycle", 0.01, 100)
    lrs = [float(s(i)) for i in range(101)]
    assert lrs[0] == pytest.approx(0.01 / 25)
    assert max(lrs) == pytest.approx(0.01) and int(np.argmax(lrs)) == 30
    assert lrs[-1] == pytest.approx(1e-5)
    assert all(a <= b for a, b in zip(lrs[:30], lrs[1:31]))
    assert all(a >= b for a, b in zip(lrs[30:], lrs[31:]))
    c = make_schedule("cosine", 0.01, 100)
    assert float(c(0)) == pytest.approx(0.01) and float(c(50)) == pytest.approx(0.005)
    assert make_schedule("constant", 0.3, 100) == 0.3


def test_class_weights_balance_the_classes():
    y = np.array([0] * 80 + [1] * 20)
    w = class_weights(y, "balanced")
    assert w == pytest.approx({0: 100 / (2 * 80), 1: 100 / (2 * 20)})
    assert class_weights(y, "sqrt")[1] == pytest.approx(np.sqrt(2.5))
    assert class_weights(y, "none") is None
    # Weighted, each class carries the same total weight.
    assert 80 * w[0] == pytest.approx(20 * w[1])


def test_mixup_blends_faces_and_labels():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 48, 48, 1)).astype(np.uint8)
    y = np.arange(64) % 7
    xb, yb = next(iter(make_dataset(x, y, 64, shuffle_seed=1, one_hot=True, mixup=0.4)))
    yb = np.asarray(yb)
    np.testing.assert_allclose(yb.sum(axis=1), 1, atol=1e-5)
    assert (yb.max(axis=1) < 0.999).any()  # some labels are mixtures
    assert np.asarray(xb).dtype == np.float32
    assert not np.array_equal(np.asarray(xb), x.astype(np.float32))


def test_tta_averages_mirrored_and_shifted_views():
    x = np.random.default_rng(1).integers(0, 256, (5, 48, 48, 1)).astype(np.uint8)
    plain = BUILDERS["cnn"]()
    expected = (predict_probs(plain, x) + predict_probs(plain, x[:, :, ::-1])) / 2
    np.testing.assert_allclose(predict_probs(plain, x, tta=True), expected, atol=1e-6)
    assert len(tta_views(x, shifts=True)) == 10
    shifted = BUILDERS["cnn"](augment=("shift",))
    views = tta_views(x, shifts=True)
    mean = np.mean([predict_probs(shifted, v) for v in views], axis=0)
    np.testing.assert_allclose(predict_probs(shifted, x, tta=True), mean, atol=1e-6)
    # A shift moves content by 3 pixels and repeats the border.
    down = views[2]
    np.testing.assert_array_equal(down[:, 3:, :, 0], x[:, :-3, :, 0])


def test_tta_adds_the_zoom_and_rotations_the_model_was_trained_with():
    x = np.random.default_rng(1).integers(0, 256, (3, 48, 48, 1)).astype(np.uint8)
    views = tta_views(x, zoom=True, rotate=True)
    assert len(views) == 8  # face and mirror, each plain, closer and turned both ways
    # Turning the face one way mirrors turning its mirror image the other way.
    np.testing.assert_allclose(views[3][:, :, ::-1], views[7], atol=0.01)
    assert np.abs(views[3] - x).mean() > 10
    # 10% closer: a horizontal ramp of 5 per pixel rises by 4.5 about its centre.
    ramp = np.tile(np.arange(48, dtype=np.uint8) * 5, (1, 48, 1))[..., None]
    closer = tta_views(ramp, zoom=True)[2]
    assert np.diff(closer[0, 24, 10:38, 0]).mean() == pytest.approx(4.5, abs=0.01)
    model = BUILDERS["cnn"](augment=("zoom", "rotate"))
    mean = np.mean([predict_probs(model, v) for v in views], axis=0)
    np.testing.assert_allclose(predict_probs(model, x, tta=True), mean, atol=1e-6)


def _train(tmp_path, homework, *flags):
    folder, _ = homework
    argv = ["--data", str(folder), "--models-dir", str(tmp_path / "m")]
    argv += ["--figures-dir", str(tmp_path / "f"), *flags]
    return train_main("cnn", argv)


@pytest.mark.slow
def test_fast_recipe_logs_the_declared_learning_rate(tmp_path, homework):
    record = _train(tmp_path, homework, "--recipe", "fast", "--epochs", "3", "--batch-size", "21")
    assert record["name"] == "fast" and record["config"]["model"] == "fast"
    steps = 3  # 63 training rows in batches of 21
    # The recipe's rate in the precision the run computed in.
    declared = resolve("cnn", "fast", record["precision"]["used"]).learning_rate
    schedule = make_schedule("onecycle", declared, 3 * steps)
    logged = [h["learning_rate"] for h in record["history"]]
    assert logged == pytest.approx([float(schedule(steps * e)) for e in (1, 2, 3)], rel=1e-4)
    saved = json.loads((tmp_path / "m" / "fast.json").read_text())
    assert saved["config"]["recipe"] == "fast"


@pytest.mark.parametrize(
    "flags",
    [
        ("--model", "vgg", "--optimizer", "adam", "--augment", "strong", "--mixup", "0.2"),
        ("--optimizer", "sgd", "--schedule", "plateau", "--label-smoothing", "0.1"),
        ("--recipe", "fast", "--class-weight", "balanced", "--precision", "bfloat16"),
    ],
)
@pytest.mark.slow
def test_training_options_run_a_step(tmp_path, homework, flags):
    record = _train(tmp_path, homework, "--epochs", "1", "--name", "opt", *flags)
    assert record["epochs_run"] == 1 and 0 <= record["val_accuracy"] <= 1
    model = keras.saving.load_model(tmp_path / "m" / "opt.keras")
    x = np.zeros((2, 48, 48, 1), np.uint8)
    probs = predict_probs(model, x)
    assert probs.dtype == np.float32 and np.allclose(probs.sum(axis=1), 1, atol=1e-3)


def test_split_names_how_it_was_drawn():
    """A split too small to stratify falls back to a random one, and says so."""
    import numpy as np

    from ferkit.train.config import TrainConfig
    from ferkit.train.pipeline import split

    labels = np.arange(700) % 7
    *_, method = split(labels, TrainConfig())
    assert method == "stratified"
    *_, method = split(labels, TrainConfig(limit=14))
    assert method == "random subset"
    tr, va, method = split(labels, TrainConfig(limit=70))
    assert method == "stratified subset" and len(tr) + len(va) == 70


def test_split_seed_sets_the_split_alone():
    import numpy as np

    from ferkit.train.config import TrainConfig
    from ferkit.train.pipeline import split

    labels = np.arange(700) % 7
    base = split(labels, TrainConfig(seed=0))[1]
    assert np.array_equal(split(labels, TrainConfig(seed=5, split_seed=0))[1], base)
    assert not np.array_equal(split(labels, TrainConfig(seed=5))[1], base)
    assert TrainConfig(seed=5).split_seed_used == 5
