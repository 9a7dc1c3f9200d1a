"""--distribute mirrored over logical CPU devices, and multiworker over two local worker
processes, must train like one device would."""

import json
import os
import socket
import subprocess
import sys

import pytest
from conftest import ROOT, write_homework

from ferkit.train.distribute import worker_id

MIRRORED_CHECK = r"""
import functools, json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from ferkit.train.distribute import split_cpu, make_strategy
split_cpu(2)
import tensorflow as tf
from ferkit.data import load_data
from ferkit.models import build_cnn
from ferkit.train.config import TrainConfig
from ferkit.train.loop import train
# Dropout draws differ per replica, and tf.data hands a distributed dataset its shuffles
# in another order; with no dropout and one full batch per epoch (order inside a batch does
# not change its mean gradient) both runs must compute the same thing.
builder = functools.partial(build_cnn, conv_dropout=(0, 0, 0), head_dropout=(0, 0, 0))
data = load_data(sys.argv[2])
weights = {}
for kind in ("mirrored", None):
    strategy = make_strategy(kind)
    config = TrainConfig(
        name=str(kind), epochs=3, batch_size=64, models_dir=sys.argv[3], precision="float32"
    )
    record = train(builder, data, config, strategy=strategy)
    model = tf.keras.models.load_model(f"{sys.argv[3]}/{kind}.keras")
    weights[kind] = [w.numpy() for w in model.weights]
    print(kind, record["strategy"], record["history"][-1]["loss"])
diff = max(float(np.max(np.abs(a - b))) for a, b in zip(weights["mirrored"], weights[None]))
scale = max(float(np.max(np.abs(a))) for a in weights[None])
print(json.dumps({"diff": diff, "scale": scale}))
"""


@pytest.mark.slow
def test_mirrored_two_replicas_matches_one_device(tmp_path):
    write_homework(tmp_path / "d", n_train=72)  # 64 training rows: one batch per epoch
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_CHECK, str(ROOT), str(tmp_path / "d"), str(tmp_path / "m")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "{'name': 'MirroredStrategy', 'replicas': 2}" in result.stdout
    numbers = json.loads(result.stdout.strip().splitlines()[-1])
    assert numbers["diff"] < 1e-4 * max(1.0, numbers["scale"])


WORKER = r"""
import functools, json, os, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import keras
from ferkit.data import load_data
from ferkit.train.distribute import make_strategy
from ferkit.models import build_cnn
from ferkit.train.config import TrainConfig
from ferkit.train.loop import train
# As above: no dropout and one batch per epoch, so the sharded run computes the same thing.
builder = functools.partial(build_cnn, conv_dropout=(0, 0, 0), head_dropout=(0, 0, 0))
strategy = make_strategy("multiworker" if "TF_CONFIG" in os.environ else None)
config = TrainConfig(
    name="run", epochs=3, batch_size=64, models_dir=sys.argv[3], precision="float32"
)
record = train(builder, load_data(sys.argv[2]), config, strategy=strategy)
keep = ("strategy", "val_accuracy", "public_accuracy")
summary = {k: record[k] for k in keep} | {"loss": [h["loss"] for h in record["history"]]}
print(json.dumps(summary))
"""


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _start(args, tf_config=None):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_CONFIG", None)
    if tf_config:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _finish(proc):
    try:
        out, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_multiworker_two_local_workers_match_one_device(tmp_path):
    write_homework(tmp_path / "d", n_train=72)
    cluster = {"worker": [f"localhost:{p}" for p in _free_ports(2)]}
    workers = [
        _start(
            (ROOT, tmp_path / "d", tmp_path / f"w{i}"),
            {"cluster": cluster, "task": {"type": "worker", "index": i}},
        )
        for i in range(2)
    ]
    # The one-device run alongside: each process spends most of its time starting.
    single = _start((ROOT, tmp_path / "d", tmp_path / "single"))
    chief, other = [_finish(w) for w in workers]
    single = _finish(single)

    assert chief["strategy"] == {"name": "MultiWorkerMirroredStrategy", "replicas": 2}
    assert other == chief  # every worker logs the same, all-reduced numbers
    assert chief["val_accuracy"] == single["val_accuracy"]
    assert chief["public_accuracy"] == single["public_accuracy"]
    assert chief["loss"] == pytest.approx(single["loss"], rel=1e-4)
    assert sorted(p.name for p in (tmp_path / "w0").iterdir()) == ["run.json", "run.keras"]
    assert not any((tmp_path / "w1").rglob("*"))  # only the chief keeps files


def test_multiworker_without_tf_config_is_a_one_line_error(monkeypatch, capsys):
    from ferkit.train.cli import train_main

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        train_main("cnn", ["--distribute", "multiworker", "--data", "nowhere"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "TF_CONFIG" in err[-1]


@pytest.mark.parametrize(
    "tf_config, expected",
    [
        (None, (True, 0)),
        ({"cluster": {"worker": ["a", "b"]}, "task": {"type": "worker", "index": 1}}, (False, 1)),
        (
            {"cluster": {"chief": ["a"], "worker": ["b"]}, "task": {"type": "worker", "index": 0}},
            (False, 0),
        ),
        (
            {"cluster": {"chief": ["a"], "worker": ["b"]}, "task": {"type": "chief", "index": 0}},
            (True, 0),
        ),
    ],
)
def test_only_the_chief_writes(monkeypatch, tf_config, expected):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    assert worker_id() == expected
