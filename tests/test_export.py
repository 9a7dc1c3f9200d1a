"""export.py: TFLite and SavedModel copies that agree with the Keras model."""

import numpy as np
import pytest
from conftest import ROOT, write_homework

from ferkit.export_cli import export_main
from ferkit.predict import predict_probs
from ferkit.predict_cli import predict_main
from ferkit.runs import load_model

MODEL = ROOT / "models" / "dnn.keras"


@pytest.mark.parametrize("quantize", [None, "float16", "dynamic"])
def test_tflite_agrees_with_keras(tmp_path, capsys, quantize):
    arrays = write_homework(tmp_path / "d")
    out = tmp_path / "m.tflite"
    argv = ["--model", str(MODEL), "--data", str(tmp_path / "d"), "--out", str(out)]
    export_main(argv + (["--quantize", quantize] if quantize else []))
    printed = capsys.readouterr().out
    assert "identical labels on 10 public faces" in printed and "exported" in printed
    faces = arrays["x"].reshape(-1, 48, 48, 1).astype(np.uint8)
    keras_probs = predict_probs(load_model(MODEL), faces)
    lite_probs = predict_probs(load_model(out), faces)
    tolerance = 1e-5 if quantize is None else 0.05
    np.testing.assert_allclose(lite_probs, keras_probs, atol=tolerance)
    if quantize:
        assert out.stat().st_size < 0.7 * MODEL.stat().st_size


def test_savedmodel_and_predict_with_exports(tmp_path):
    write_homework(tmp_path / "d")
    saved = tmp_path / "sm"
    export_main(
        [
            "--model",
            str(MODEL),
            "--format",
            "savedmodel",
            "--data",
            str(tmp_path / "d"),
            "--out",
            str(saved),
        ]
    )
    assert (saved / "saved_model.pb").exists()
    lite = tmp_path / "m.tflite"
    export_main(["--model", str(MODEL), "--data", str(tmp_path / "d"), "--out", str(lite)])
    subs = []
    for model in (MODEL, saved, lite):
        out = tmp_path / f"{model.name}.csv"
        predict_main(["--model", str(model), "--data", str(tmp_path / "d"), "--out", str(out)])
        subs.append(out.read_text())
    assert subs[0] == subs[1] == subs[2]


def test_quantize_needs_tflite(tmp_path):
    with pytest.raises(SystemExit) as code:
        export_main(["--format", "savedmodel", "--quantize", "float16"])
    assert code.value.code == 2
