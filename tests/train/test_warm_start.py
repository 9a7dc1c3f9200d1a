"""--init-from: a run that starts from a saved run's weights."""

import json
import os

import numpy as np
import pytest
from conftest import write_homework

from ferkit.report import results_table
from ferkit.runs import load_model
from ferkit.train.cli import train_main


@pytest.fixture
def saved(tmp_path):
    """A one-epoch cnn run on tiny data: (data folder, models folder)."""
    write_homework(tmp_path / "d")
    m = tmp_path / "m"
    argv = ["--data", str(tmp_path / "d"), "--epochs", "1", "--models-dir", str(m)]
    train_main("cnn", [*argv, "--figures-dir", str(tmp_path / "f")])
    return tmp_path / "d", m


def test_run_starts_from_the_saved_weights(saved):
    data, m = saved
    # A zero learning rate leaves the weights where they started.
    argv = ["--data", str(data), "--models-dir", str(m), "--epochs", "1", "--name", "again"]
    argv += ["--figures-dir", str(m.parent / "f")]
    argv += ["--optimizer", "sgd", "--lr", "0", "--init-from", str(m / "cnn.keras")]
    train_main("cnn", argv)
    before, after = load_model(m / "cnn.keras"), load_model(m / "again.keras")
    for a, b in zip(before.get_weights(), after.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    record = json.loads((m / "again.json").read_text())
    # Records keep paths relative to the working directory, never absolute.
    assert (
        record["config"]["init_from"] == record["init"]["path"] == os.path.relpath(m / "cnn.keras")
    )
    assert record["init"]["name"] == "cnn" and record["init"]["epochs_run"] == 1
    # The record names what ran: the recipe, what the flags changed, the run it started from.
    assert record["recipe_changes"] == {"epochs": 1, "optimizer": "sgd", "learning_rate": 0.0}
    row = "| again | cnn | reference (epochs 1, optimizer sgd, learning rate 0.0), from cnn |"
    assert row in results_table([m / "again.json"])


@pytest.mark.parametrize(
    ("script", "flags", "problem"),
    [
        ("cnn", ["--seed", "1"], "held out other validation faces"),
        ("dnn", [], "is another architecture than --model"),
    ],
)
def test_refuses_a_run_it_cannot_continue(saved, capsys, script, flags, problem):
    data, m = saved
    argv = ["--data", str(data), "--models-dir", str(m), "--name", "bad", "--epochs", "1"]
    argv += ["--figures-dir", str(m.parent / "f")]
    with pytest.raises(SystemExit) as exit_info:
        train_main(script, [*argv, *flags, "--init-from", str(m / "cnn.keras")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert problem in err and str(m / "cnn.keras") in err and "\n" not in err
    assert sorted(p.name for p in m.iterdir()) == ["cnn.json", "cnn.keras"]
