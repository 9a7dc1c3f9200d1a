"""Temperature scaling: the measures, the fit, the layer inside the model, calibrate.py."""

import json

import numpy as np
import pytest
from conftest import write_homework

from ferkit.calibration import ece_floor, fit_temperature, temperature_of, with_temperature
from ferkit.evaluate import expected_calibration_error, negative_log_likelihood, tempered


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sampled(temperature, n=20000, seed=0):
    """Logits, and labels drawn from softmax(logits / temperature): calibrated at it."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (n, 7))
    p = _softmax(logits / temperature)
    labels = np.array([rng.choice(7, p=row) for row in p])
    return logits, labels


def test_fit_recovers_the_temperature_that_calibrates():
    logits, labels = _sampled(2.0)
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(2.0, rel=0.05)
    before = expected_calibration_error(_softmax(logits), labels)
    after = expected_calibration_error(_softmax(logits / t), labels)
    assert after < 0.01 < before
    assert negative_log_likelihood(_softmax(logits / t), labels) < negative_log_likelihood(
        _softmax(logits), labels
    )


def test_ece_of_an_overconfident_model():
    # Always 90% sure, right half the time: ECE 0.4.
    probs = np.full((100, 7), 0.1 / 6)
    probs[:, 0] = 0.9
    labels = np.arange(100) % 2
    assert expected_calibration_error(probs, labels) == pytest.approx(0.4)


def test_ece_floor_is_the_ece_of_exact_probabilities():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (3000, 7))
    probs = _softmax(logits)
    floor = ece_floor(probs)
    # Labels drawn from the probabilities themselves: calibrated by construction, and
    # yet their ECE is the floor's, not zero.
    drawn = [
        expected_calibration_error(probs, np.array([rng.choice(7, p=row) for row in probs]))
        for _ in range(10)
    ]
    assert 0.01 < floor["mean"] < floor["p95"]
    assert np.mean(drawn) == pytest.approx(floor["mean"], rel=0.2)
    # Four times the faces halve the noise.
    bigger = ece_floor(np.tile(probs, (4, 1)))
    assert bigger["mean"] == pytest.approx(floor["mean"] / 2, rel=0.2)


def test_the_temperature_is_a_builtin_layer_inside_the_model(tmp_path):
    import keras

    from ferkit.calibration import logits_model
    from ferkit.models import build_fast

    model = build_fast()
    x = np.random.default_rng(0).integers(0, 256, (5, 48, 48, 1)).astype("float32")
    calibrated = with_temperature(model, 2.5)
    logits = np.asarray(logits_model(model)(x))
    np.testing.assert_allclose(np.asarray(calibrated(x)), _softmax(logits / 2.5), atol=1e-5)
    assert temperature_of(calibrated) == pytest.approx(2.5) and temperature_of(model) == 1.0
    # Recalibrating replaces the temperature instead of compounding it.
    again = with_temperature(calibrated, 1.5)
    np.testing.assert_allclose(np.asarray(again(x)), _softmax(logits / 1.5), atol=1e-5)
    calibrated.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")  # built-in layers only
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(calibrated(x)), atol=1e-6)


def test_calibrate_py_stores_the_temperature_and_records_it(tmp_path, capsys):
    from ferkit.cards import train_command
    from ferkit.runs import load_model
    from ferkit.train.calibrate_cli import calibrate_main
    from ferkit.train.cli import train_main

    write_homework(tmp_path / "d")
    argv = ["--data", str(tmp_path / "d"), "--epochs", "2", "--models-dir", str(tmp_path / "m")]
    train_main("cnn", argv + ["--figures-dir", str(tmp_path / "f")])
    raw = json.loads((tmp_path / "m" / "cnn.json").read_text())
    calibrate_main([str(tmp_path / "m" / "cnn.keras"), "--data", str(tmp_path / "d")])
    assert "cnn: temperature" in capsys.readouterr().out
    record = json.loads((tmp_path / "m" / "cnn.json").read_text())
    # The card gives the command that ran, then the one that calibrated it: the
    # trainer's --calibrate would have fitted the same.
    assert train_command(raw) == raw["command"] and "--calibrate" not in raw["command"]
    assert record["command"] == raw["command"]
    assert train_command(record) == (
        f"{raw['command']}`, then `python calibrate.py models/cnn.keras"
    )
    c = record["calibration"]
    assert c["fitted_on"] == "val" and c["bins"] == 15
    assert set(c["val"]) == set(c["public"]) == {"before", "after", "ece_floor"}
    assert c["val"]["after"]["nll"] <= c["val"]["before"]["nll"] + 1e-9
    model = load_model(tmp_path / "m" / "cnn.keras")
    assert temperature_of(model) == pytest.approx(c["temperature"])
    # Again: the same temperature, so the model file is not rewritten.
    saved = (tmp_path / "m" / "cnn.keras").stat().st_mtime_ns
    calibrate_main([str(tmp_path / "m" / "cnn.keras"), "--data", str(tmp_path / "d")])
    assert (tmp_path / "m" / "cnn.keras").stat().st_mtime_ns == saved
    again = json.loads((tmp_path / "m" / "cnn.json").read_text())["calibration"]
    assert again["temperature"] == pytest.approx(c["temperature"], rel=1e-6)
    # The TTA path has its own temperature, fitted on validation's averaged views.
    tta = record["calibration"]["tta"]
    assert tta["fitted_on"] == "val" and tta["temperature"] > 0
    assert set(tta["val"]) == set(tta["public"]) == {"before", "after", "ece_floor"}
    assert tta["val"]["after"]["nll"] <= tta["val"]["before"]["nll"] + 1e-9
    # predict.py --tta applies it; the labels stay those of the plain average.
    from ferkit.deploy.predict_cli import predict_main

    common = ["--model", str(tmp_path / "m" / "cnn.keras"), "--data", str(tmp_path / "d")]
    plain, calibrated = tmp_path / "plain.csv", tmp_path / "calibrated.csv"
    predict_main(common + ["--tta", "--probs", str(calibrated), "--out", str(tmp_path / "a")])
    (tmp_path / "m" / "cnn.json").write_text(json.dumps(raw))  # no TTA temperature
    predict_main(common + ["--tta", "--probs", str(plain), "--out", str(tmp_path / "b")])
    p, q = (np.loadtxt(f, delimiter=",", skiprows=1)[:, 1:] for f in (plain, calibrated))
    assert np.allclose(q, tempered(p, tta["temperature"]), atol=2e-6)
    assert (p.argmax(axis=1) == q.argmax(axis=1)).all()


def test_tempered_keeps_the_order_and_sharpens_below_one():
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    sharp, soft = tempered(p, 0.5), tempered(p, 2.0)
    assert np.allclose(tempered(p, 1.0), p, atol=1e-7)
    assert (sharp.argmax(axis=1) == p.argmax(axis=1)).all()
    assert (sharp.max(axis=1) > p.max(axis=1)).all() and (soft.max(axis=1) < p.max(axis=1)).all()
    assert np.allclose(sharp[0], np.array([25, 9, 4]) / 38, atol=1e-6)
