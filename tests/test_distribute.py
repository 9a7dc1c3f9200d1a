"""--distribute mirrored over logical CPU devices must train like one device would."""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, write_homework

from ferkit.distribute import worker_id

MIRRORED_CHECK = r"""
import functools, json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from ferkit.distribute import split_cpu, make_strategy
split_cpu(2)
import tensorflow as tf
from ferkit.data import load_data
from ferkit.models import build_cnn
from ferkit.training import TrainConfig, train
# Dropout draws differ per replica, and tf.data hands a distributed dataset its shuffles
# in another order; with no dropout and one full batch per epoch (order inside a batch does
# not change its mean gradient) both runs must compute the same thing.
builder = functools.partial(build_cnn, conv_dropout=(0, 0, 0), head_dropout=(0, 0, 0))
data = load_data(sys.argv[2])
weights = {}
for kind in ("mirrored", None):
    strategy = make_strategy(kind)
    config = TrainConfig(name=str(kind), epochs=3, batch_size=64, models_dir=sys.argv[3])
    record = train(builder, data, config, strategy=strategy)
    model = tf.keras.models.load_model(f"{sys.argv[3]}/{kind}.keras")
    weights[kind] = [w.numpy() for w in model.weights]
    print(kind, record["strategy"], record["history"][-1]["loss"])
diff = max(float(np.max(np.abs(a - b))) for a, b in zip(weights["mirrored"], weights[None]))
scale = max(float(np.max(np.abs(a))) for a in weights[None])
print(json.dumps({"diff": diff, "scale": scale}))
"""


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
