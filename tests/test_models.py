"""Reference builders: parameter counts, layer names, raw-pixel inputs."""

import numpy as np
import pytest

from ferkit.models import BUILDERS, build_cnn, build_dnn, count_params


def test_cnn_has_about_310k_parameters():
    n = count_params(build_cnn())
    assert abs(n - 309_664) / 309_664 < 0.05


def test_dnn_matches_cnn_within_one_percent():
    cnn, dnn = count_params(build_cnn()), count_params(build_dnn())
    assert abs(dnn - cnn) / cnn < 0.01


def test_cnn_layout_and_names():
    model = build_cnn()
    names = [layer.name for layer in model.layers]
    for name in ["rescale", "conv1", "conv2", "conv3", "pool3", "flatten", "logits", "probs"]:
        assert name in names
    assert [model.get_layer(f"conv{i}").kernel_size for i in (1, 2, 3)] == [(3, 3)] * 3
    assert [model.get_layer(f"dense{i}").units for i in (1, 2, 3)] == [128, 64, 64]
    assert model.get_layer("logits").units == 7
    assert model.input_shape == (None, 48, 48, 1)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_models_take_raw_pixels_and_output_probabilities(name):
    model = BUILDERS[name]()
    x = np.random.default_rng(0).integers(0, 256, (3, 48, 48, 1), dtype=np.uint8)
    probs = np.asarray(model(x, training=False))
    assert probs.shape == (3, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    # Rescaling lives in the model: 255 in becomes 1.0 after the first layer.
    rescaled = model.get_layer("rescale")(np.full((1, 48, 48, 1), 255.0, np.float32))
    np.testing.assert_allclose(np.asarray(rescaled), 1.0)


def test_builders_are_pure():
    a, b = build_cnn(), build_cnn()
    assert a is not b and a.get_layer("conv1").kernel is not b.get_layer("conv1").kernel
    assert not a.compiled


def _logits(model):
    import keras

    return keras.Model(model.input, model.get_layer("logits").output)


@pytest.mark.parametrize("builder", [build_cnn, build_dnn])
def test_standardized_models_ignore_brightness_and_contrast(builder):
    x = np.random.default_rng(1).integers(40, 200, (4, 48, 48, 1)).astype(np.float32)
    washed_out = 0.5 * x + 100

    def change(model):
        before, after = np.asarray(model(x)), np.asarray(model(washed_out))
        return np.abs(after - before).max() / np.abs(before).max()

    model = _logits(builder(standardize=True))
    assert change(model) < 1e-3
    standardized = np.asarray(model.get_layer("standardize")(x / 255))
    np.testing.assert_allclose(standardized.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(standardized.std(axis=(1, 2, 3)), 1, atol=1e-4)
    # Without it the same change moves the logits: the test can tell the difference.
    assert change(_logits(builder(standardize=False))) > 0.05


def test_one_list_of_architectures():
    """The builders, the trainers' --model choices (ferkit.ARCHITECTURES, read without
    Keras) and the cards' descriptions name the same nets."""
    from ferkit import ARCHITECTURES
    from ferkit.cards import ARCHITECTURES as DESCRIBED
    from ferkit.models import BUILDERS

    assert tuple(BUILDERS) == ARCHITECTURES
    assert set(DESCRIBED) == set(ARCHITECTURES) | {"ensemble"}
