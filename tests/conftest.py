"""Tiny generated FER CSVs and helpers shared by the tests."""

import gzip
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# pytest-xdist runs a worker a core: each worker's TensorFlow then computes on one thread,
# instead of every worker spreading over every core and all of them contending.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _workers > 1 and _workers >= len(os.sched_getaffinity(0)):
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
# The real data: $FER_DATA when set (as CI sets it), else the shared folder beside the repo.
SHARED_DATA = Path(os.environ.get("FER_DATA") or ROOT.parent / "shared" / "data" / "fer2013")


def pixel_text(row):
    return " ".join(str(int(v)) for v in row)


def write_homework(folder, n_train=70, n_test=20, n_public=10, seed=0, gz=False):
    """Writes train/test/public_labels CSVs; returns the arrays they hold."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    y = np.arange(n_train) % 7
    x = rng.integers(0, 256, (n_train, 2304))
    x_test = rng.integers(0, 256, (n_test, 2304))
    public = rng.integers(0, 7, n_public)
    train = "label,feature\n" + "".join(f"{label},{pixel_text(r)}\n" for label, r in zip(y, x))
    test = "id,feature\n" + "".join(f"{i},{pixel_text(r)}\n" for i, r in enumerate(x_test))
    suffix = ".csv.gz" if gz else ".csv"
    for name, text in (("train", train), ("test", test)):
        path = folder / f"{name}{suffix}"
        if gz:
            path.write_bytes(gzip.compress(text.encode()))
        else:
            path.write_text(text)
    labels = "id,label\n" + "".join(f"{i},{v}\n" for i, v in enumerate(public))
    (folder / "public_labels.csv").write_text(labels)
    return {"x": x, "y": y, "x_test": x_test, "public": public}


def write_kaggle(path, counts=(("Training", 30), ("PublicTest", 8), ("PrivateTest", 6)), seed=0):
    """Writes a fer2013.csv with the given usage blocks; returns its rows."""
    rng = np.random.default_rng(seed)
    rows = []
    for usage, n in counts:
        for _ in range(n):
            rows.append((int(rng.integers(0, 7)), rng.integers(0, 256, 2304), usage))
    text = "emotion,pixels,Usage\n" + "".join(f"{e},{pixel_text(p)},{u}\n" for e, p, u in rows)
    Path(path).write_text(text)
    return rows


@pytest.fixture
def homework(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "data"
    arrays = write_homework(folder)
    return folder, arrays


@pytest.fixture
def teacher(tmp_path):
    """A one-epoch cnn run on tiny data, to teach others: (data folder, models folder)."""
    from ferkit.train.cli import train_main

    write_homework(tmp_path / "d")
    m = tmp_path / "m"
    argv = ["--data", str(tmp_path / "d"), "--epochs", "1", "--models-dir", str(m)]
    train_main("cnn", [*argv, "--figures-dir", str(tmp_path / "f"), "--name", "teach"])
    return tmp_path / "d", m


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))


@pytest.fixture(autouse=True)
def _float32_unless_asked(monkeypatch):
    """Every test computes as on a CPU without native bfloat16: `--precision auto` trains
    in float32, and bfloat16 models predict through their float32 copy. So the tests give
    the same numbers on every CPU (bfloat16 rounds differently on each) and spend no time
    in emulated bfloat16; the tests of bfloat16 ask for it by name. (Subprocesses get
    `--precision float32`.)"""
    monkeypatch.setattr("ferkit.precision.native_bfloat16", lambda: False)


@pytest.fixture(scope="session")
def shared_data(tmp_path_factory):
    """load_data(SHARED_DATA, labels=...), parsed once a session and shared: the tests
    that take it only read it."""
    from functools import cache

    from ferkit.data import load_data

    folder = tmp_path_factory.mktemp("shared-cache")

    @cache
    def load(labels="fer2013"):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("XDG_CACHE_HOME", str(folder))
            return load_data(SHARED_DATA, labels=labels)

    return load


# The deploy extra's runtimes and exporters (requirements.txt installs them): without them
# the tests of exports and exported models skip, saying why.
DEPLOY_MODULES = ("ai_edge_litert", "onnxruntime", "tf2onnx", "onnx")
_missing_deploy = [m for m in DEPLOY_MODULES if importlib.util.find_spec(m) is None]
needs_deploy = pytest.mark.skipif(
    bool(_missing_deploy),
    reason=f"{', '.join(_missing_deploy)} not installed: the exports' runtimes and "
    "exporters come with `pip install -r requirements-deploy.txt`",
)

needs_shared = pytest.mark.skipif(
    not (SHARED_DATA / "train.csv.gz").exists(),
    reason=f"the real FER2013 data is absent: no train.csv.gz in {SHARED_DATA} "
    "(set FER_DATA to the folder that holds it)",
)


def write_ferplus(folder, n_train=70, n_public=10, seed=0):
    """Writes fer2013new.csv for write_homework's rows: ten votes a face, mostly for one
    emotion so that most faces keep a label; returns the votes (our class order)."""
    rng = np.random.default_rng(seed)
    header = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,"
    header += "contempt,unknown,NF\n"
    lines, ours = [], []
    for i in range(n_train + n_public):
        votes = np.zeros(10, int)
        votes[rng.integers(0, 8)] += 7
        votes[rng.integers(0, 10, 3)] += 1
        ours.append(votes)
        # fer2013new.csv's column order: neutral, happiness, surprise, sadness, anger,
        # disgust, fear, contempt, unknown, NF; ours: angry, disgust, fear, happy, sad,
        # surprise, neutral, contempt, unknown, NF.
        theirs = votes[[6, 3, 5, 4, 0, 1, 2, 7, 8, 9]]
        usage = "Training" if i < n_train else "PublicTest"
        lines.append(f"{usage},fer{i:07d}.png," + ",".join(map(str, theirs)) + "\n")
    (Path(folder) / "fer2013new.csv").write_text(header + "".join(lines))
    return np.array(ours)
