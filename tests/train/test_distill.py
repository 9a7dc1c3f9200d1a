"""--teacher: knowledge distillation from a saved run."""

import json

import numpy as np
import pytest

from ferkit.data import load_data
from ferkit.record import read_record
from ferkit.train.cli import train_main
from ferkit.train.distill import distill_targets, teacher_record


def test_targets_blend_the_teacher_with_the_labels_and_spare_validation(teacher):
    data_dir, m = teacher
    data = load_data(data_dir)
    val_idx = np.asarray(read_record(m / "teach.json")["split"]["val_indices"])
    assert teacher_record(m / "teach.keras", data, val_idx, 7)["name"] == "teach"
    soft = distill_targets(m / "teach.keras", data, val_idx, 0.75, 7)
    np.testing.assert_allclose(soft.sum(axis=1), 1, rtol=1e-5)
    train = np.setdiff1d(np.arange(data.y_train.size), val_idx)
    # A quarter of every training target is its own label; the rest the teacher's guess.
    rows = soft[train, data.y_train[train]]
    assert (rows >= 0.25 - 1e-6).all() and (rows < 1).all()
    # Validation faces keep their true labels: the score stays against the truth.
    np.testing.assert_array_equal(soft[val_idx], np.eye(7)[data.y_train[val_idx]])


def test_student_records_its_teacher_and_the_lineage_cost(teacher):
    data_dir, m = teacher
    argv = ["--data", str(data_dir), "--models-dir", str(m), "--epochs", "1"]
    argv += ["--figures-dir", str(m.parent / "f"), "--model", "fast", "--name", "student"]
    train_main("cnn", [*argv, "--teacher", str(m / "teach.keras"), "--distill-weight", "0.7"])
    record = json.loads((m / "student.json").read_text())
    assert record["teacher"]["name"] == "teach"
    assert record["config"]["distill_weight"] == 0.7
    assert record["lineage"]["runs"] == ["student", "teach"]
    teach = read_record(m / "teach.json")
    seconds = record["training_seconds"] + teach["training_seconds"]
    assert record["lineage"]["hours"] == pytest.approx(seconds / 3600, abs=0.01)


def test_refuses_a_teacher_that_saw_the_validation_faces(teacher, capsys):
    data_dir, m = teacher
    argv = ["--data", str(data_dir), "--models-dir", str(m), "--epochs", "1", "--seed", "1"]
    argv += ["--figures-dir", str(m.parent / "f"), "--name", "student"]
    with pytest.raises(SystemExit) as exit_info:
        train_main("cnn", [*argv, "--teacher", str(m / "teach.keras")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "held out other validation faces" in err and "\n" not in err
    assert sorted(p.name for p in m.iterdir()) == ["teach.json", "teach.keras"]


def test_teacher_tta_averages_every_test_time_view(teacher):
    from ferkit.evaluate import predict_probs
    from ferkit.runs import load_model

    data_dir, m = teacher
    argv = ["--data", str(data_dir), "--models-dir", str(m), "--epochs", "1"]
    argv += ["--figures-dir", str(m.parent / "f"), "--augment", "standard", "--name", "aug"]
    train_main("cnn", argv)
    data = load_data(data_dir)
    val_idx = np.asarray(read_record(m / "aug.json")["split"]["val_indices"])
    train = np.setdiff1d(np.arange(data.y_train.size), val_idx)
    two = distill_targets(m / "aug.keras", data, val_idx, 1.0, 7)
    views = distill_targets(m / "aug.keras", data, val_idx, 1.0, 7, tta=True)
    # Trained with shifts, zoom and rotation, the teacher has 16 views, not 2.
    model = load_model(m / "aug.keras")
    expected = predict_probs(model, data.x_train, tta=True)
    np.testing.assert_allclose(views[train], expected[train], atol=1e-5)
    assert not np.allclose(two[train], views[train], atol=1e-3)
