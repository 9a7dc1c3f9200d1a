"""--budget-minutes: a run sized to the time, its schedule complete."""

import numpy as np
import pytest
from conftest import write_homework

from ferkit.train.cli import train_main


def test_a_budgeted_run_fits_its_schedule_to_the_time(tmp_path, capsys):
    write_homework(tmp_path / "d", n_train=140)
    argv = ["--data", str(tmp_path / "d"), "--models-dir", str(tmp_path / "m"), "--name", "b"]
    argv += ["--figures-dir", str(tmp_path / "f"), "--model", "fast", "--optimizer", "adam"]
    argv += ["--schedule", "onecycle", "--epochs", "500", "--budget-minutes", "0.25"]
    record = train_main("cnn", argv)
    assert record["finished"] and record["config"]["budget_minutes"] == 0.25
    epochs = record["epochs_run"]
    assert 3 <= epochs < 500
    assert record["history"][-1]["wall_seconds"] < 0.25 * 60 + 10  # the budget held
    rates = [h["learning_rate"] for h in record["history"]]
    # The whole one-cycle fitted: up to the peak (1e-3), then down near its end.
    assert max(rates) > 0.5e-3 and rates[-1] < 0.3 * max(rates)
    assert not (tmp_path / "m" / "b.run").exists()
    from ferkit.cards import train_command

    # The card's command says what sized the run, not only its ceiling of epochs.
    command = train_command(record).split()
    assert command[command.index("--budget-minutes") + 1] == "0.25"
    assert command[command.index("--epochs") + 1] == "500"


def test_the_budgeted_schedule_follows_its_length():
    import keras  # noqa: F401 - the schedule is a Keras one

    from ferkit.train.budget import budget_schedule

    s = budget_schedule("onecycle", 1.0, 100)
    assert float(s(0)) == pytest.approx(1 / 25)
    assert float(s(30)) == pytest.approx(1.0, abs=0.01)
    assert float(s(100)) == pytest.approx(1e-3, abs=1e-4)
    s.total_steps.assign(200.0)  # the machine turned out faster: more steps, same shape
    assert float(s(60)) == pytest.approx(1.0, abs=0.01)
    cosine = budget_schedule("cosine", 2.0, 10)
    assert np.allclose([float(cosine(0)), float(cosine(10))], [2.0, 0.0], atol=1e-6)


def test_a_model_compiled_with_the_schedule_clones_and_its_config_reads_back():
    """A bfloat16 run's last step, its float32 copy, clones the compiled model."""
    import keras

    from ferkit.precision import float32_copy
    from ferkit.train.budget import budget_schedule

    schedule = budget_schedule("onecycle", 0.01, 100)
    schedule.total_steps.assign(250.0)
    back = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert back.get_config() == schedule.get_config() and float(back(125)) == float(schedule(125))
    inputs = keras.Input((4,))
    logits = keras.layers.Dense(3, name="logits", dtype="mixed_bfloat16")(inputs)
    model = keras.Model(inputs, logits)
    model.compile(optimizer=keras.optimizers.AdamW(schedule), loss="mse")
    copy = float32_copy(model)
    assert copy.layers[-1].compute_dtype == "float32"


def test_budget_must_be_positive(tmp_path):
    with pytest.raises(SystemExit) as code:
        train_main("cnn", ["--budget-minutes", "0", "--data", str(tmp_path)])
    assert code.value.code == 2


def test_the_first_guess_counts_a_consistent_teachers_pass():
    import time

    import keras

    from ferkit.train.budget import first_guess

    student = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Flatten()])

    def teacher(batch, training=False):  # a teacher slower than any student step here
        time.sleep(0.05)
        return batch

    x = np.zeros((4, 48, 48, 1), np.uint8)
    alone = first_guess(student, x, 10, 4, budget_s=600)
    taught = first_guess(student, x, 10, 4, budget_s=600, teacher=teacher)
    # 600 s at 10 steps of at least 0.05 s each: at most 1,043 epochs.
    assert taught <= 1043 < alone
