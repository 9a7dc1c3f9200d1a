"""Shipping a run under another name: tools/ship_run.py and ferkit.shipping."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT

from ferkit.cards import card
from ferkit.errors import InputError
from ferkit.shipping import ship


def _run(folder, name, keras_bytes, **entries):
    """A fake saved run: its model file's bytes and a record with what cards read."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.keras").write_bytes(keras_bytes)
    record = {
        "name": name,
        "model": "compact",
        "params": 10,
        "config": {"distill_weight": 1.0, "consistent_teacher": True},
        "epochs_run": 3,
        "training_seconds": 60.0,
        "split": {"n_val": 5, "seed": 0},
        "val_accuracy": 0.5,
        "public_accuracy": 0.4,
        "command": f"python train_cnn.py --name {name}",
        **entries,
    }
    (folder / f"{name}.json").write_text(json.dumps(record))
    return folder / f"{name}.keras"


def test_a_taught_run_ships_with_its_teacher_renamed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    teacher = _run(tmp_path / "points", "big8h", b"teacher weights")
    summary = {"path": "points/big8h.keras", "name": "big8h", "val_accuracy": 0.7}
    lineage = {"runs": ["tiny", "big8h"], "hours": 2.0, "cpu_hours": 4.0}
    student = _run(tmp_path / "runs", "tiny", b"student weights", teacher=summary, lineage=lineage)
    ship(teacher, "best", "models")
    record = ship(student, "small", "models", {"big8h": "best"})

    assert (tmp_path / "models" / "small.keras").read_bytes() == b"student weights"
    assert (tmp_path / "models" / "best.keras").read_bytes() == b"teacher weights"
    assert json.loads((tmp_path / "models" / "small.json").read_text()) == record
    assert record["name"] == "small"
    assert record["trained_as"] == {"name": "tiny", "record": "runs/tiny.json"}
    assert record["teacher"] | {"val_accuracy": 0.7} == {
        "path": "models/best.keras",
        "name": "best",
        "val_accuracy": 0.7,
        "trained_as": "big8h",
    }
    assert record["lineage"]["runs"] == ["small", "best"]
    # The command stays the one that ran; the card says what it named.
    assert record["command"] == "python train_cnn.py --name tiny"
    text = card(record, "models")
    assert "trained as `tiny`" in text and "distilled from best (trained as `big8h`)" in text


def test_a_teacher_that_is_not_the_shipped_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _run(tmp_path / "points", "big8h", b"teacher weights")
    _run(tmp_path / "models", "best", b"another best")
    summary = {"path": "points/big8h.keras", "name": "big8h"}
    student = _run(tmp_path / "runs", "tiny", b"student", teacher=summary)
    with pytest.raises(InputError, match="differ: best is not big8h"):
        ship(student, "small", "models", {"big8h": "best"})
    assert not (tmp_path / "models" / "small.keras").exists()


def test_the_tool_says_one_line_for_a_missing_run(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "ship_run.py"), "nothing.keras", "best"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "error: nothing.keras: no such model file"
    assert not (tmp_path / "models").exists()
