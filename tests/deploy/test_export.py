"""export.py and predict.py --model on exports: a model trained in bfloat16 goes to every
format and quantization and predicts through each runtime like the Keras model."""

import json
import sys

import numpy as np
import pytest
from conftest import ROOT, needs_deploy, write_homework

from ferkit.deploy import export_cli
from ferkit.deploy.export_cli import export_main
from ferkit.deploy.predict_cli import predict_main
from ferkit.evaluate import predict_probs
from ferkit.precision import float32_copy, mixed_precision
from ferkit.runs import load_model
from ferkit.train.cli import train_main

# (format, quantize, output suffix, how close its probabilities stay to Keras's float32)
EXPORTS = [
    pytest.param("tflite", None, ".tflite", 1e-4, marks=needs_deploy),
    pytest.param("tflite", "float16", ".float16.tflite", 0.02, marks=needs_deploy),
    pytest.param("tflite", "dynamic", ".dynamic.tflite", 0.05, marks=needs_deploy),
    pytest.param("tflite", "int8", ".int8.tflite", 0.1, marks=needs_deploy),
    ("savedmodel", None, "", 1e-4),
    pytest.param("onnx", None, ".onnx", 1e-4, marks=needs_deploy),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A CNN trained for one epoch in bfloat16 on generated faces, and its data folder."""
    root = tmp_path_factory.mktemp("tiny")
    write_homework(root / "d", n_test=40, n_public=40)
    argv = ["--data", str(root / "d"), "--epochs", "1", "--precision", "bfloat16"]
    argv += ["--models-dir", str(root / "m"), "--figures-dir", str(root / "f"), "--name", "tiny"]
    train_main("cnn", argv)
    return root / "m" / "tiny.keras", root / "d"


@pytest.mark.parametrize("fmt,quantize,suffix,tolerance", EXPORTS)
def test_export_predicts_like_keras(
    tiny, tmp_path, capsys, monkeypatch, fmt, quantize, suffix, tolerance
):
    model_path, data = tiny
    if quantize:
        # Generated faces make a near-uniform model whose labels quantisation flips
        # freely; the probabilities are compared instead, the threshold is tested below.
        monkeypatch.setattr(export_cli, "MIN_AGREEMENT", 0.0)
        monkeypatch.setattr(export_cli, "MIN_AGREEMENT_INT8", 0.0)
    out = tmp_path / f"tiny{suffix}"
    argv = ["--model", str(model_path), "--format", fmt, "--data", str(data), "--out", str(out)]
    export_main(argv + (["--quantize", quantize] if quantize else []))
    printed = capsys.readouterr().out
    # The tests compute as a CPU without native bfloat16 does (conftest).
    assert "identical labels on 40 public faces: " in printed
    assert "of the Keras model in float32 (bfloat16 is emulated here" in printed
    assert out.exists()
    probs = tmp_path / "probs.csv"
    predict_main(
        [
            "--model",
            str(out),
            "--data",
            str(data),
            "--out",
            str(tmp_path / "s.csv"),
            "--probs",
            str(probs),
        ]
    )
    written = np.loadtxt(probs, delimiter=",", skiprows=1)[:, 1:]
    keras_model = load_model(model_path)
    assert mixed_precision(keras_model) == "bfloat16"
    expected = predict_probs(float32_copy(keras_model), _faces(data))
    assert np.abs(written - expected).max() < tolerance
    if tolerance < 1e-3:
        labels = [int(line.split(",")[1]) for line in (tmp_path / "s.csv").read_text().split()[1:]]
        assert labels == list(expected.argmax(axis=1))


def _faces(data):
    from ferkit.data import load_data

    return load_data(data).x_test


@needs_deploy
def test_int8_export_is_integer_with_uint8_input(tiny, tmp_path, monkeypatch):
    from ai_edge_litert.interpreter import Interpreter

    monkeypatch.setattr(export_cli, "MIN_AGREEMENT_INT8", 0.0)
    model_path, data = tiny
    out = tmp_path / "m.int8.tflite"
    export_main(
        ["--model", str(model_path), "--data", str(data), "--out", str(out), "--quantize", "int8"]
    )
    interpreter = Interpreter(model_path=str(out))
    assert interpreter.get_input_details()[0]["dtype"] == np.uint8
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert "FULLY_CONNECTED" in ops and "CONV_2D" in ops
    dtypes = {t["dtype"] for t in interpreter.get_tensor_details()}
    assert np.int8 in dtypes and np.float16 not in dtypes


@needs_deploy
def test_export_that_disagrees_is_removed(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(export_cli, "MIN_AGREEMENT", 1.01)
    model_path, data = tiny
    out = tmp_path / "m.tflite"
    with pytest.raises(SystemExit) as code:
        export_main(["--model", str(model_path), "--data", str(data), "--out", str(out)])
    assert code.value.code == 1 and not out.exists()
    assert "agreement below 101.0%" in capsys.readouterr().err


@needs_deploy
def test_missing_runtime_names_the_pip_command(tiny, tmp_path, monkeypatch, capsys):
    model_path, data = tiny
    out = tmp_path / "m.onnx"
    export_main(
        ["--model", str(model_path), "--format", "onnx", "--data", str(data), "--out", str(out)]
    )
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(SystemExit) as code:
        predict_main(["--model", str(out), "--data", str(data), "--out", str(tmp_path / "s.csv")])
    err = capsys.readouterr().err
    assert code.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "m.onnx" in err and "pip install onnxruntime" in err
    assert not (tmp_path / "s.csv").exists()


@needs_deploy
def test_exports_classify_photos(tiny, tmp_path):
    model_path, data = tiny
    out = tmp_path / "m.onnx"
    export_main(
        ["--model", str(model_path), "--format", "onnx", "--data", str(data), "--out", str(out)]
    )
    for model in (model_path, out):
        predict_main(["--demo", "--model", str(model), "--out", str(tmp_path / model.suffix)])
    keras_rows, onnx_rows = (
        json.loads((tmp_path / s / "faces.json").read_text()) for s in (".keras", ".onnx")
    )
    assert len(keras_rows) == len(onnx_rows) == 1
    assert onnx_rows[0]["probability"] == pytest.approx(keras_rows[0]["probability"], abs=0.02)


def test_probs_has_a_column_per_class(tmp_path):
    write_homework(tmp_path / "d", n_test=12, n_public=5)
    probs = tmp_path / "p.csv"
    predict_main(
        [
            "--model",
            str(ROOT / "models" / "dnn.keras"),
            "--data",
            str(tmp_path / "d"),
            "--out",
            str(tmp_path / "s.csv"),
            "--probs",
            str(probs),
        ]
    )
    lines = probs.read_text().splitlines()
    assert lines[0] == "id,angry,disgust,fear,happy,sad,surprise,neutral"
    rows = np.loadtxt(probs, delimiter=",", skiprows=1)
    assert list(rows[:, 0]) == list(range(12))
    np.testing.assert_allclose(rows[:, 1:].sum(axis=1), 1, atol=1e-4)


def test_quantize_needs_tflite(tmp_path):
    with pytest.raises(SystemExit) as code:
        export_main(["--format", "savedmodel", "--quantize", "float16"])
    assert code.value.code == 2
