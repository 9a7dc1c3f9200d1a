"""The models shipped in models/: their records, the README table, their accuracy."""

import json

import numpy as np
import pytest
from conftest import ROOT, SHARED_DATA, needs_shared

from ferkit.report import END, START, results_table
from ferkit.runs import load_run

ARCHITECTURE = {
    "cnn": "cnn",
    "cnn_stage1": "cnn",
    "dnn": "dnn",
    "fast": "fast",
    "strong": "vgg",
    "best": "vgg",
}
SHIPPED = list(ARCHITECTURE)


@pytest.mark.parametrize("name", SHIPPED)
def test_record_is_complete(name):
    record = json.loads((ROOT / "models" / f"{name}.json").read_text())
    assert record["model"] == ARCHITECTURE[name]
    assert set(record["tta"]) == {"val_accuracy", "public_accuracy"}
    assert record["config"]["batch_size"] == 128
    assert record["epochs_run"] == len(record["history"]) >= record["best_epoch"]
    best = max(h["val_accuracy"] for h in record["history"])
    assert record["val_accuracy"] == pytest.approx(best, abs=2e-3)
    assert len(record["split"]["val_indices"]) == record["split"]["n_val"] == 2871


def test_readme_table_comes_from_the_json_files():
    readme = (ROOT / "README.md").read_text()
    table = readme.split(START)[1].split(END)[0].strip()
    assert table == results_table((ROOT / "models").glob("*.json"))


@needs_shared
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_reproduces_its_recorded_accuracy(name):
    from ferkit.data import load_data
    from ferkit.predict import predict_probs

    model, record = load_run(ROOT / "models" / f"{name}.keras")
    data = load_data(SHARED_DATA)
    assert record["data"]["fingerprint"] == data.fingerprint
    val = np.array(record["split"]["val_indices"])
    val_pred = predict_probs(model, data.x_train[val]).argmax(axis=1)
    assert np.mean(val_pred == data.y_train[val]) == pytest.approx(record["val_accuracy"], abs=1e-3)
    public_pred = predict_probs(model, data.x_test[data.public]).argmax(axis=1)
    public = np.mean(public_pred == data.test_labels[data.public])
    assert public == pytest.approx(record["public_accuracy"], abs=1e-3)


@needs_shared
def test_best_model_reaches_070_public_accuracy_with_tta():
    from ferkit.data import load_data
    from ferkit.predict import predict_probs

    model, record = load_run(ROOT / "models" / "best.keras")
    data = load_data(SHARED_DATA)
    predicted = predict_probs(model, data.x_test[data.public], tta=True).argmax(axis=1)
    public = np.mean(predicted == data.test_labels[data.public])
    assert public == pytest.approx(record["tta"]["public_accuracy"], abs=1e-3)
    assert public >= 0.70


def test_reference_models_beat_the_report():
    """CNN at least 0.62 val and public, DNN far below (the report: 0.62 / 0.61, about 0.40)."""
    # The records are tied to the models by test_shipped_model_reproduces_its_recorded_accuracy.
    cnn, dnn = (json.loads((ROOT / "models" / f"{n}.json").read_text()) for n in ("cnn", "dnn"))
    assert cnn["config"]["recipe"] == dnn["config"]["recipe"] == "reference"
    assert cnn["val_accuracy"] >= 0.62 and cnn["public_accuracy"] >= 0.62
    assert 0.38 <= dnn["public_accuracy"] < cnn["public_accuracy"] - 0.15
