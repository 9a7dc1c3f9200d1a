"""analyze.py and the interpretation functions, on tiny models and generated data."""

import json

import keras
import numpy as np
import pytest
from conftest import write_homework

from ferkit.analysis.ascent import AscentConfig, class_ascent, filter_ascent, noise_images
from ferkit.analysis.cli import analyze_main
from ferkit.analysis.confusion import confusion_stats
from ferkit.analysis.features import feature_maps
from ferkit.analysis.saliency import saliency_maps
from ferkit.train.cli import train_main


def pixel_model(row=10, col=20, target=3, weight=1.0):
    """Class `target`'s logit is weight * the pixel at (row, col); every other logit is 0."""
    pixels = keras.Input((48, 48, 1), name="pixels")
    x = keras.layers.Flatten(name="flatten")(pixels)
    logits = keras.layers.Dense(7, name="logits", use_bias=False)(x)
    probs = keras.layers.Activation("softmax", name="probs")(logits)
    model = keras.Model(pixels, probs)
    kernel = np.zeros((48 * 48, 7), np.float32)
    kernel[row * 48 + col, target] = weight
    model.get_layer("logits").set_weights([kernel])
    return model


def two_filter_model():
    """conv1 filter 0 likes bright images, filter 1 dark ones."""
    pixels = keras.Input((48, 48, 1), name="pixels")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(pixels)
    x = keras.layers.Conv2D(2, 3, activation="relu", name="conv1")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    logits = keras.layers.Dense(7, name="logits")(x)
    model = keras.Model(pixels, keras.layers.Activation("softmax", name="probs")(logits))
    kernel = np.zeros((3, 3, 1, 2), np.float32)
    kernel[..., 0], kernel[..., 1] = 1.0, -1.0
    model.get_layer("conv1").set_weights([kernel, np.array([-4.5, 4.5], np.float32)])
    return model


def test_confusion_stats():
    stats = confusion_stats([0, 0, 1, 3, 3, 3], [0, 1, 1, 3, 3, 0])
    assert stats["counts"][0].tolist() == [1, 1, 0, 0, 0, 0, 0]
    assert stats["per_class_accuracy"][[0, 1, 3]].tolist() == [0.5, 1.0, 2 / 3]
    assert stats["per_class_accuracy"][2] == 0  # no faces of that class: 0, not NaN
    assert stats["accuracy"] == pytest.approx(4 / 6)
    np.testing.assert_allclose(stats["normalised"][[0, 1, 3]].sum(axis=1), 1)


def test_saliency_peaks_at_the_only_pixel_that_matters():
    x = np.random.default_rng(0).integers(0, 256, (2, 48, 48, 1)).astype(np.float32)
    maps = saliency_maps(pixel_model(), x, [3, 3], "saliency")
    assert maps.shape == (2, 48, 48) and maps.min() >= 0 and maps.max() <= 1
    for m in maps:
        assert np.unravel_index(np.argmax(m), m.shape) == (10, 20)
        assert np.sum(m > 0.01) == 1
    smooth = saliency_maps(pixel_model(), x, [3, 3], "smoothgrad", smooth_samples=4)
    assert np.unravel_index(np.argmax(smooth[0]), (48, 48)) == (10, 20)


def test_gradcam_shape_and_range():
    x = noise_images(3, (48, 48, 1), seed=1)
    maps = saliency_maps(two_filter_model(), x, [0, 1, 2], "gradcam")
    assert maps.shape == (3, 48, 48) and 0 <= maps.min() and maps.max() <= 1
    with pytest.raises(ValueError, match="needs a convolution layer"):
        saliency_maps(pixel_model(), x, [0, 1, 2], "gradcam")


def test_filter_ascent_finds_what_each_filter_likes():
    cfg = AscentConfig(steps=30, jitter=0, tv=0.0)
    images, final = filter_ascent(two_filter_model(), "conv1", cfg)
    assert images.shape == (2, 48, 48) and images.min() >= 0 and images.max() <= 255
    assert images[0].mean() > 200 and images[1].mean() < 55
    assert (final > 0).all()


def test_batched_ascent_equals_one_filter_at_a_time():
    model, cfg = two_filter_model(), AscentConfig(steps=5, jitter=0, tv=0.0)
    start = noise_images(2, (48, 48, 1), seed=3)
    batched, _ = filter_ascent(model, "conv1", cfg, start=start)
    for f in (0, 1):
        single, _ = filter_ascent(model, "conv1", cfg, filters=[f], start=start[f : f + 1])
        np.testing.assert_allclose(single[0], batched[f], atol=1e-3)


def test_class_ascent_drives_the_probability_up():
    model = pixel_model(weight=0.03)  # p(class 3) is 0.88 at grey, 0.997 at white
    start = noise_images(1, (48, 48, 1), seed=0)
    _, probs = class_ascent(model, start, [3], AscentConfig(steps=20, step_size=20))
    assert probs[0] > 0.95  # jitter and smoothing hold a single-pixel feature back a little
    raw = AscentConfig(steps=20, step_size=20, jitter=0, tv=0.0)
    images, probs = class_ascent(model, start, [3], raw)
    assert (
        probs[0] > 0.99 and images[0, 10, 20] == 255
    )  # the one pixel that raises the class, pushed to the top


def test_feature_maps_shapes():
    x = noise_images(2, (48, 48, 1), seed=0)
    maps = feature_maps(two_filter_model(), x, ["conv1"])
    assert maps["conv1"].shape == (2, 46, 46, 2) and maps["conv1"].min() >= 0


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    write_homework(root / "d", n_train=84)
    models = root / "models"
    for name in ("cnn", "dnn"):
        argv = ["--data", str(root / "d"), "--epochs", "2", "--models-dir", str(models)]
        train_main(name, argv + ["--figures-dir", str(root / "f")])
    return root


FAST = ["--steps", "2", "--class-steps", "3"]


def run_analyze(root, *parts):
    argv = ["--model", str(root / "models" / "cnn.keras"), "--data", str(root / "d")]
    argv += ["--figures-dir", str(root / "figs"), *FAST, *parts]
    argv += ["--compare-runs", str(root / "models" / "cnn.json"), str(root / "models" / "dnn.json")]
    analyze_main(argv)
    return json.loads((root / "figs" / "summary.json").read_text())


@pytest.mark.slow
def test_confusion_part_and_summary_merge(tiny_run):
    summary = run_analyze(tiny_run, "--confusion")
    val = summary["cnn"]["confusion"]["validation"]
    assert np.sum(val["matrix"]) == 9  # ceil(10% of 84) validation faces
    assert set(val["per_class_accuracy"]) == {
        "angry",
        "disgust",
        "fear",
        "happy",
        "sad",
        "surprise",
        "neutral",
    }
    assert "public" in summary["cnn"]["confusion"]
    summary = run_analyze(tiny_run, "--feature-maps", "--images", "5")
    assert "confusion" in summary["cnn"]  # merged, not overwritten
    layers = summary["cnn"]["feature_maps"]["layers"]
    assert set(layers) == {"conv1", "conv2", "conv3"} and layers["conv2"]["channels"] == 80
    assert summary["cnn"]["feature_maps"]["image"] == 5
    assert (tiny_run / "figs" / "cnn_features_conv3.png").exists()


@pytest.mark.slow
def test_every_part_under_all(tiny_run):
    summary = run_analyze(tiny_run, "--all")
    cnn = summary["cnn"]
    assert {"confusion", "saliency", "filters", "class_max", "feature_maps"} <= set(cnn)
    assert {"architecture", "calibration", "label_noise"} <= set(cnn)
    assert cnn["architecture"]["params"] == 310_743
    assert cnn["architecture"]["layers"][-1] == {
        "layer": "probs", "kind": "Activation", "output": "7", "params": 0
    }  # fmt: skip
    assert len(cnn["label_noise"]["faces"]) == min(12, 9)  # 9 validation faces here
    assert 0 <= cnn["filters"]["conv1"]["noisy"] <= 64
    assert {"saliency", "smoothgrad", "gradcam"} <= set(cnn["saliency"])
    assert cnn["filters"]["conv1"]["filters"] == 64
    assert len(cnn["filters"]["conv2"]["final_activation"]) == 80
    assert set(cnn["class_max"]["noise"]) == set(cnn["class_max"]["face"])
    assert all(0 <= p <= 1 for p in cnn["class_max"]["noise"].values())
    assert [r["run"] for r in summary["compare"]["table"]["rows"]] == ["cnn", "dnn"]
    page = (tiny_run / "figs" / "index.html").read_text()
    for part in cnn.values():
        for fig in part["figures"]:
            assert (tiny_run / "figs" / fig["file"]).read_bytes()[:4] == b"\x89PNG"
            assert f"src='{fig['file']}'" in page


def test_no_part_prints_help(capsys):
    assert analyze_main([]) is None
    assert "--confusion" in capsys.readouterr().out


def test_other_data_is_refused(tiny_run, tmp_path, capsys):
    write_homework(tmp_path / "other", seed=5)
    with pytest.raises(SystemExit) as code:
        analyze_main(
            [
                "--model",
                str(tiny_run / "models" / "cnn.keras"),
                "--data",
                str(tmp_path / "other"),
                "--confusion",
            ]
        )
    assert code.value.code == 2 and "fingerprints differ" in capsys.readouterr().err


def test_float32_copy_of_a_bfloat16_model_computes_the_same_in_float32():
    from ferkit.models import build_cnn
    from ferkit.precision import float32_copy

    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        mixed = build_cnn()
    finally:
        keras.config.set_dtype_policy("float32")
    copy = float32_copy(mixed)
    assert {layer.compute_dtype for layer in copy.layers} == {"float32"}
    assert mixed.get_layer("conv1").compute_dtype == "bfloat16"
    faces = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1), dtype=np.uint8)
    np.testing.assert_allclose(np.asarray(copy(faces)), np.asarray(mixed(faces)), atol=0.02)
    assert float32_copy(copy) is copy


def test_compare_draws_a_run_after_the_one_it_started_from(tmp_path):
    from ferkit.analysis.compare import compare_rows, with_lineage

    def run(name, epochs, init=None):
        history = [
            {"epoch": e, "val_accuracy": 0.5 + e / 100, "wall_seconds": 10.0 * e}
            for e in range(1, epochs + 1)
        ]
        record = {"name": name, "params": 1, "history": history, "training_seconds": 10.0 * epochs}
        record |= {"seconds_per_epoch": 10.0, "public_accuracy": None}
        return record | ({"init": {"name": init}} if init else {})

    (tmp_path / "stage1.json").write_text(json.dumps(run("stage1", 3)))
    joined = with_lineage(run("final", 2, init="stage1"), tmp_path)
    assert joined["lineage"] == ["stage1", "final"]
    assert [h["epoch"] for h in joined["history"]] == [1, 2, 3, 4, 5]
    assert [h["wall_seconds"] for h in joined["history"]] == [10, 20, 30, 40, 50]
    row = compare_rows([joined])[0]
    assert row["epochs"] == 5 and row["training_minutes"] == pytest.approx(50 / 60)


def test_the_page_says_why_the_dnn_has_no_filters(tmp_path):
    """A sentence, not an empty heading, where a fully connected model has nothing to draw."""
    from ferkit.analysis.html import write_index

    empty = {"figures": [], "seconds": 0.0}
    summary = {"dnn": {"filters": {**empty, "config": {}}, "feature_maps": {**empty, "layers": {}}}}
    write_index(tmp_path / "index.html", summary)
    page = (tmp_path / "index.html").read_text()
    assert "<h3>dnn</h3><p>dnn has no convolution layers, so it has no filters to draw" in (
        page.replace("\n", "")
    )
    assert "dnn has no convolution layers, so it has no feature maps to show" in page
