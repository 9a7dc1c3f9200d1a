"""--consistent-teacher: the teacher labels each augmented view the student trains on."""

import io
import json

import keras
import numpy as np
import pytest

from ferkit.cards import train_command
from ferkit.data import load_data
from ferkit.models import build_fast, builder_for
from ferkit.train.cli import train_main
from ferkit.train.config import TrainConfig
from ferkit.train.consistent import ConsistentTeacher, split_at_augmentation
from ferkit.train.loop import train


def test_the_split_student_is_the_student():
    student = build_fast(augment=("flip", "shift"))
    augmenter, body = split_at_augmentation(student)
    assert augmenter.layers[-1].name == "augment_shift"
    x = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(
        body(augmenter(x, training=False)), student(x, training=False), rtol=1e-5, atol=1e-6
    )


def _side_teacher():
    """Says class 0 when the left half of a face is the brighter, else class 1."""
    pixels = keras.Input((48, 48, 1))
    left = keras.layers.Lambda(lambda x: keras.ops.mean(x[:, :, :24], axis=(1, 2, 3)))(pixels)
    right = keras.layers.Lambda(lambda x: keras.ops.mean(x[:, :, 24:], axis=(1, 2, 3)))(pixels)
    diff = keras.layers.Subtract()([left, right])
    logits = keras.layers.Lambda(lambda d: keras.ops.stack([d, -d] + [d * 0 - 1e3] * 5, axis=1))(
        diff
    )
    return keras.Model(pixels, keras.layers.Softmax()(logits))


def test_the_teacher_labels_the_view_not_the_face():
    student = build_fast(augment=("flip",))
    taught = ConsistentTeacher(student, _side_teacher(), weight=0.75)
    faces = np.zeros((64, 48, 48, 1), "float32")
    faces[:, :, :24] = 200  # every face bright on its left
    view = taught.augmenter(faces, training=True)
    flipped = np.asarray(view)[:, 0, 0, 0] < 0.5
    assert 0 < flipped.sum() < 64  # the flip acted on some faces only
    own = np.eye(7, dtype="float32")[np.full(64, 3)]
    targets = np.asarray(taught.targets(view, own))
    np.testing.assert_allclose(targets.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(targets[:, 3], 0.25, atol=1e-6)
    # A target labelled on the plain face would give class 0 to all of them.
    np.testing.assert_allclose(targets[~flipped, 0], 0.75, atol=1e-4)
    np.testing.assert_allclose(targets[flipped, 1], 0.75, atol=1e-4)


def test_a_consistently_taught_student_trains_saves_and_says_how(teacher):
    data_dir, m = teacher
    argv = ["--data", str(data_dir), "--models-dir", str(m), "--epochs", "2"]
    argv += ["--figures-dir", str(m.parent / "f"), "--model", "fast", "--name", "student"]
    argv += ["--augment", "strong", "--teacher", str(m / "teach.keras"), "--consistent-teacher"]
    # A budget sizes the run from a timed step that includes the teacher's pass.
    train_main("cnn", [*argv, "--schedule", "onecycle", "--budget-minutes", "5"])
    record = json.loads((m / "student.json").read_text())
    assert record["config"]["consistent_teacher"] is True
    assert record["teacher"]["name"] == "teach"
    assert len(record["history"]) == 2
    assert "--consistent-teacher" in train_command(record)
    # The student alone is saved, not the teacher inside it.
    saved = keras.saving.load_model(m / "student.keras")
    assert saved.name == "fast" and saved.output.shape[-1] == 7


def test_a_stopped_consistent_run_resumes_where_it_stopped(teacher):
    data_dir, m = teacher
    data = load_data(data_dir)
    config = TrainConfig(name="student", model="fast", epochs=3, models_dir=str(m))
    config.augment, config.teacher, config.consistent_teacher = "flip", str(m / "teach.keras"), True

    class PowerCut(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # before the second epoch's backup is written
                raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        train(builder_for(config), data, config, io.StringIO(), extra_callbacks=[PowerCut()])
    out = io.StringIO()
    record = train(builder_for(config), data, config, out)
    assert "resuming student from epoch 1" in out.getvalue()
    assert [h["epoch"] for h in record["history"]] == [1, 2, 3]
    assert record["finished"] is True


@pytest.mark.parametrize(
    "flags, problem",
    [(["--consistent-teacher"], "needs --teacher"), (["--teacher-tta"], "drop --teacher-tta")],
)
def test_consistent_teaching_refuses_what_it_cannot_do(tmp_path, capsys, flags, problem):
    argv = ["--data", str(tmp_path), "--consistent-teacher", *flags]
    if "--teacher-tta" in flags:
        argv += ["--teacher", str(tmp_path / "t.keras")]
    with pytest.raises(SystemExit) as exit_info:
        train_main("cnn", argv)
    assert exit_info.value.code == 2
    assert problem in capsys.readouterr().err
