"""Short training runs: files written, resume after a kill, submission from the model."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
from conftest import ROOT, write_homework

from ferkit.deploy.predict_cli import predict_main
from ferkit.train.cli import train_main
from ferkit.train.resume import RunDir


def test_public_faces_are_scored_once_when_the_run_has_ended(tmp_path, monkeypatch):
    """Never during training: the progress line, the per-epoch logs and the snapshots of
    the best model so far leave public alone, and the finished run scores it once."""
    import io

    import keras

    from ferkit import evaluate
    from ferkit.data import load_data
    from ferkit.models import build_cnn
    from ferkit.train import loop
    from ferkit.train.config import TrainConfig

    write_homework(tmp_path / "d", n_public=13)
    data = load_data(tmp_path / "d")
    public = data.public_faces[0]
    ended, scored, finishing = [], [], []

    def spy_predict(model, x, *args, real=evaluate.predict_probs, **kwargs):
        if len(x) == len(public) and np.array_equal(x, public):
            scored.append(bool(ended))
        return real(model, x, *args, **kwargs)

    def spy_measures(*args, real=loop.run_measures):
        finishing.append(bool(ended))
        return real(*args)

    class End(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            ended.append(True)

    monkeypatch.setattr(evaluate, "predict_probs", spy_predict)
    monkeypatch.setattr(loop, "run_measures", spy_measures)
    config = TrainConfig(epochs=3, models_dir=str(tmp_path / "m"))
    record = loop.train(build_cnn, data, config, out=io.StringIO(), extra_callbacks=[End()])
    assert finishing == [True]  # one scoring of the finished run
    assert scored and all(scored)  # the public faces only then
    assert all("public_accuracy" not in h for h in record["history"])
    assert record["public_accuracy"] is not None


def test_two_epoch_run_writes_model_json_and_figure(tmp_path, capsys):
    write_homework(tmp_path / "d")
    argv = ["--data", str(tmp_path / "d"), "--epochs", "2", "--name", "tiny"]
    argv += ["--models-dir", str(tmp_path / "m"), "--figures-dir", str(tmp_path / "f")]
    record = train_main("cnn", argv)
    out = capsys.readouterr().out
    assert "trainable parameters: cnn 310,743, dnn 310,807" in out
    assert "epoch 2/2" in out and "public_acc" not in out  # public: once, at the end
    assert "precision: float32" in out
    assert (tmp_path / "m" / "tiny.keras").stat().st_size > 100_000
    assert (tmp_path / "f" / "tiny_history.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "m" / "tiny.json").read_text())
    assert saved == json.loads(json.dumps(record))
    assert [h["epoch"] for h in saved["history"]] == [1, 2]
    for key in ["val_accuracy", "epoch_seconds", "wall_seconds", "loss"]:
        assert key in saved["history"][-1]
    assert "public_accuracy" not in saved["history"][-1]
    assert saved["command"].startswith("python train_cnn.py --data ")
    assert saved["data"]["layout"] == "homework" and "source" not in saved["data"]
    assert saved["params"] == 310_743 and saved["config"]["batch_size"] == 128
    assert saved["data"]["fingerprint"] and saved["versions"]["tensorflow"]
    assert len(saved["split"]["val_indices"]) == 7  # 10% of 70, stratified
    assert 0 <= saved["public_accuracy"] <= 1 and saved["best_epoch"] in (1, 2)
    assert set(saved["tta"]) == {"val_accuracy", "public_accuracy"}
    assert 0 <= saved["tta"]["public_accuracy"] <= 1
    assert not (tmp_path / "m" / "tiny.run").exists()  # scratch state cleaned up
    assert not [p for p in (tmp_path / "m").iterdir() if p.name.startswith(".")]


def test_saved_model_feeds_predict(tmp_path, capsys):
    write_homework(tmp_path / "d")
    m = tmp_path / "m"
    train_main("dnn", ["--data", str(tmp_path / "d"), "--epochs", "1", "--models-dir", str(m)])
    predict_main(
        [
            "--model",
            str(m / "dnn.keras"),
            "--data",
            str(tmp_path / "d"),
            "--out",
            str(tmp_path / "s.csv"),
        ]
    )
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0] == "id,label" and len(lines) == 21
    ids, labels = zip(*(map(int, ln.split(",")) for ln in lines[1:]))
    assert list(ids) == list(range(20)) and set(labels) <= set(range(7))
    assert "public accuracy" in capsys.readouterr().out


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_epoch(tmp_path):
    write_homework(tmp_path / "d", n_train=140)
    cmd = [sys.executable, str(ROOT / "train_dnn.py"), "--data", str(tmp_path / "d")]
    cmd += ["--epochs", "40", "--name", "r", "--models-dir", "m", "--figures-dir", "f"]
    cmd += ["--precision", "float32"]
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    meta = tmp_path / "m" / "r.run" / "backup" / "training_metadata.json"
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    def saved_an_epoch():
        try:
            return json.loads(meta.read_text())["epoch"] >= 1
        except (OSError, ValueError):
            return False

    deadline = time.time() + 120
    while not saved_an_epoch() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)  # at any moment, even halfway through writing
    proc.wait()
    assert meta.exists(), "the run never saved a backup"
    done = RunDir(tmp_path / "m", "r").resume_epoch()
    assert 1 <= done < 40
    snapshot = json.loads((tmp_path / "m" / "r.json").read_text())  # best epoch so far
    assert snapshot["finished"] is False and snapshot["epochs_run"] >= snapshot["best_epoch"]
    assert (tmp_path / "m" / "r.keras").exists()
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"resuming r from epoch {done}" in result.stdout
    assert f"epoch {done}/40" not in result.stdout and f"epoch {done + 1}/40" in result.stdout
    record = json.loads((tmp_path / "m" / "r.json").read_text())
    assert record["finished"] is True
    assert [h["epoch"] for h in record["history"]] == list(range(1, 41))
    walls = [h["wall_seconds"] for h in record["history"]]
    assert np.all(np.diff(walls) > 0)  # wall time carries over the restart


def test_resume_refuses_a_different_architecture(tmp_path):
    import functools

    import pytest

    from ferkit.data import load_data
    from ferkit.errors import InputError
    from ferkit.models import build_cnn
    from ferkit.train.config import TrainConfig
    from ferkit.train.loop import train
    from ferkit.train.resume import architecture_id

    write_homework(tmp_path / "d")
    data = load_data(tmp_path / "d")
    config = TrainConfig(name="r", epochs=2, models_dir=str(tmp_path / "m"))
    run = tmp_path / "m" / "r.run"
    (run / "backup").mkdir(parents=True)
    (run / "backup" / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    settings = {
        "model": "cnn", "batch_size": 128, "seed": 0, "val_split": 0.1, "limit": None,
        "learning_rate": 1.0, "rho": 0.95, "data": data.fingerprint,
        "architecture": architecture_id(build_cnn()),
    }  # fmt: skip
    (run / "config.json").write_text(json.dumps(settings))
    lighter = functools.partial(build_cnn, conv_dropout=(0.1, 0.1, 0.1))
    with pytest.raises(InputError, match="other settings \\(architecture '"):
        train(lighter, data, config)
    assert (run / "backup" / "training_metadata.json").exists()  # nothing was touched


def test_resume_refuses_another_epoch_count(tmp_path):
    """The epoch count shapes the cosine and one-cycle schedules: resuming a run with
    another --epochs would silently reshape its schedule."""
    import pytest

    from ferkit.data import load_data
    from ferkit.errors import InputError
    from ferkit.models import build_cnn
    from ferkit.train.config import TrainConfig
    from ferkit.train.loop import train

    write_homework(tmp_path / "d")
    data = load_data(tmp_path / "d")
    run = tmp_path / "m" / "r.run"
    (run / "backup").mkdir(parents=True)
    (run / "backup" / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    (run / "config.json").write_text(json.dumps({"epochs": 40, "data": data.fingerprint}))
    config = TrainConfig(name="r", epochs=20, models_dir=str(tmp_path / "m"))
    with pytest.raises(InputError, match="other settings \\(epochs 40 -> 20\\)"):
        train(build_cnn, data, config)


def test_a_corrupt_epoch_counter_falls_back_to_the_previous_epoch(tmp_path):
    run = RunDir(tmp_path, "r")
    run.backup.mkdir(parents=True)
    meta = run.backup / "training_metadata.json"
    meta.write_text('{"epo')  # killed halfway through writing epoch 5
    (run.backup / "training_metadata.json.bkp").write_text('{"epoch": 4, "batch": 0}')
    (run.backup / "latest.weights.h5").write_bytes(b"epoch 5, half written")
    (run.backup / "latest.weights.h5.bkp").write_bytes(b"epoch 4")
    assert run.resume_epoch() == 4
    assert json.loads(meta.read_text())["epoch"] == 4
    assert (run.backup / "latest.weights.h5").read_bytes() == b"epoch 4"
    assert RunDir(tmp_path, "none").resume_epoch() == 0


def test_a_run_that_failed_while_being_scored_is_finished_without_training_again(
    tmp_path, monkeypatch
):
    """Keras deletes its backup when fit() ends; a run whose scoring then failed is finished
    from its best weights on the next start, not trained again from the first epoch."""
    import io

    import keras

    from ferkit.data import load_data
    from ferkit.models import builder_for
    from ferkit.train import loop
    from ferkit.train.recipes import resolve

    write_homework(tmp_path / "d")
    data = load_data(tmp_path / "d")
    config = resolve("dnn", epochs=3, name="r", models_dir=str(tmp_path / "m"))
    config = replace(config, precision="float32")
    builder = builder_for(config)
    real = loop.run_measures

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(loop, "run_measures", broken)
    with pytest.raises(OSError):
        loop.train(builder, data, config, io.StringIO())
    assert not (tmp_path / "m" / "r.run" / "backup").exists()  # Keras removed it
    # The last snapshot, read after the next run (loading a model renames later layers).
    snapshot = tmp_path / "snapshot.keras"
    snapshot.write_bytes((tmp_path / "m" / "r.keras").read_bytes())
    monkeypatch.setattr(loop, "run_measures", real)
    epochs = []

    class Count(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            epochs.append(epoch)

    out = io.StringIO()
    record = loop.train(builder, data, config, out, extra_callbacks=[Count()])
    assert "finishing r: its training had ended" in out.getvalue()
    assert epochs == [] and record["finished"] is True
    assert [h["epoch"] for h in record["history"]] == [1, 2, 3]
    finished = keras.models.load_model(tmp_path / "m" / "r.keras")
    best = keras.models.load_model(snapshot)
    x = data.x_train[:16]
    assert np.allclose(finished.predict(x, verbose=0), best.predict(x, verbose=0), atol=1e-6)
    assert not (tmp_path / "m" / "r.run").exists()
