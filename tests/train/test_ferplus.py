"""FER+ labels end to end: eight classes trained on the majority or the votes, and every
consumer of an 8-class model (predict, --probs, photos, analyze, export, cards)."""

import json

import numpy as np
import pytest
from conftest import needs_deploy, write_ferplus, write_homework

from ferkit.train.cli import train_main


@pytest.fixture(scope="module")
def ferplus_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ferplus")
    write_homework(root / "d", n_test=20, n_public=10)
    write_ferplus(root / "d", n_train=70, n_public=10)
    base = ["--data", str(root / "d"), "--models-dir", str(root / "m")]
    base += ["--figures-dir", str(root / "f"), "--epochs", "1"]
    train_main("cnn", [*base, "--name", "plain"])
    train_main(
        "cnn",
        [
            *base,
            "--labels",
            "ferplus-votes",
            "--name",
            "fp",
            "--init-from",
            str(root / "m" / "plain.keras"),
        ],
    )
    train_main(
        "cnn",
        [*base, "--labels", "ferplus-votes", "--name", "fp2", "--seed", "1", "--split-seed", "0"],
    )
    return root


def test_a_votes_run_has_eight_classes_and_starts_from_a_fer2013_run(ferplus_run, capsys):
    record = json.loads((ferplus_run / "m" / "fp.json").read_text())
    assert record["labels"] == "ferplus-votes" and record["class_names"][-1] == "contempt"
    assert record["config"]["labels"] == "ferplus-votes"
    assert set(record["per_class"]["val"]) == set(record["class_names"])
    plain = json.loads((ferplus_run / "m" / "plain.json").read_text())
    # Its validation faces are among the FER2013 run's: the warm start leaks none.
    assert set(record["split"]["val_indices"]) <= set(plain["split"]["val_indices"])
    from ferkit.runs import load_model

    model = load_model(ferplus_run / "m" / "fp.keras")
    assert model.output_shape[-1] == 8
    # Validation measured as public is: against the majority, where the votes have one.
    from ferkit.data import load_data
    from ferkit.evaluate import predict_probs

    data = load_data(ferplus_run / "d", labels="ferplus-majority")
    y = data.y_train[record["split"]["val_indices"]]
    x = data.x_train[record["split"]["val_indices"]][y >= 0]
    majority = record["val_majority"]
    assert majority["val_faces"] == len(x) == np.sum(y >= 0)
    predicted = predict_probs(model, x).argmax(1)
    assert majority["val_accuracy"] == pytest.approx(np.mean(predicted == y[y >= 0]))
    predicted = predict_probs(model, x, tta=True).argmax(1)
    assert majority["val_accuracy_tta"] == pytest.approx(np.mean(predicted == y[y >= 0]))


def test_a_majority_step_runs(tmp_path):
    write_homework(tmp_path / "d")
    write_ferplus(tmp_path / "d")
    argv = ["--data", str(tmp_path / "d"), "--models-dir", str(tmp_path / "m"), "--epochs", "1"]
    record = train_main(
        "dnn", argv + ["--figures-dir", str(tmp_path / "f"), "--labels", "ferplus-majority"]
    )
    assert record["labels"] == "ferplus-majority" and len(record["class_names"]) == 8


@needs_deploy
def test_every_consumer_takes_an_eight_class_model(ferplus_run, tmp_path, capsys):
    from ferkit.analysis.cli import analyze_main
    from ferkit.cards import card
    from ferkit.deploy.export_cli import export_main
    from ferkit.deploy.predict_cli import predict_main

    model, data = ferplus_run / "m" / "fp.keras", ferplus_run / "d"
    probs = tmp_path / "p.csv"
    predict_main(
        [
            "--model",
            str(model),
            "--data",
            str(data),
            "--out",
            str(tmp_path / "s.csv"),
            "--probs",
            str(probs),
        ]
    )
    assert probs.read_text().splitlines()[0].endswith(",neutral,contempt")
    assert "public accuracy" in capsys.readouterr().out  # against the FER+ majority
    predict_main(["--demo", "--model", str(model), "--out", str(tmp_path / "photos")])
    assert "p_contempt" in (tmp_path / "photos" / "faces.csv").read_text().splitlines()[0]
    summary = analyze_main(
        [
            "--model",
            str(model),
            "--data",
            str(data),
            "--confusion",
            "--figures-dir",
            str(tmp_path / "fig"),
        ]
    )
    assert len(summary["fp"]["confusion"]["validation"]["matrix"]) == 8
    export_main(["--model", str(model), "--data", str(data), "--out", str(tmp_path / "m.tflite")])
    assert "identical labels" in capsys.readouterr().out
    record = json.loads((ferplus_run / "m" / "fp.json").read_text())
    assert "| contempt |" in card(record, ferplus_run / "m")
    rows = np.loadtxt(probs, delimiter=",", skiprows=1)
    assert rows.shape == (20, 9)


def test_a_ferplus_run_joins_an_ensemble_through_its_fer2013_view(ferplus_run, tmp_path):
    from ferkit.calibration import logits_model
    from ferkit.deploy.ensemble import fer2013_view
    from ferkit.deploy.ensemble_cli import ensemble_main
    from ferkit.runs import load_model

    fp = load_model(ferplus_run / "m" / "fp.keras")
    view = fer2013_view(fp)
    x = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1)).astype("float32")
    logits = np.asarray(logits_model(fp)(x), np.float64)[:, :7]
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(view(x)), expected, atol=1e-4)
    m, d = ferplus_run / "m", ferplus_run / "d"
    # The FER+ member comes first here; the FER2013 member's split is the ensemble's.
    record = ensemble_main(
        [
            str(m / "fp.keras"),
            str(m / "plain.keras"),
            "--name",
            "mix",
            "--models-dir",
            str(tmp_path),
            "--data",
            str(d),
        ]
    )
    plain = json.loads((m / "plain.json").read_text())
    assert record["split"]["val_indices"] == plain["split"]["val_indices"]
    assert [r["name"] for r in record["members"]] == ["plain", "fp"]
    assert load_model(tmp_path / "mix.keras").output_shape[-1] == 7


def test_ferplus_runs_alone_make_an_eight_class_ensemble(ferplus_run, tmp_path):
    from ferkit.data import load_data
    from ferkit.deploy.ensemble_cli import ensemble_main
    from ferkit.evaluate import predict_probs
    from ferkit.runs import load_model

    m, d = ferplus_run / "m", ferplus_run / "d"
    argv = [str(m / "fp.keras"), str(m / "fp2.keras"), "--data", str(d)]
    record = ensemble_main(argv + ["--name", "fpe", "--models-dir", str(tmp_path)])
    ensemble = load_model(tmp_path / "fpe.keras")
    assert ensemble.output_shape[-1] == 8
    assert record["labels"] == "ferplus-votes" and record["class_names"][-1] == "contempt"
    # Scored against the FER+ labels its members learnt, on their validation faces.
    data = load_data(d, labels="ferplus-votes")
    val = np.asarray(record["split"]["val_indices"])
    predicted = predict_probs(ensemble, data.x_train[val]).argmax(1)
    assert record["val_accuracy"] == pytest.approx(np.mean(predicted == data.y_train[val]))
    public_x, public_y = data.public_faces
    predicted = predict_probs(ensemble, public_x).argmax(1)
    assert record["public_accuracy"] == pytest.approx(np.mean(predicted == public_y))
