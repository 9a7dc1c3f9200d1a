"""FER2013 as image folders: train/<class>/* and test/<class>/*."""

import numpy as np
import pytest
from conftest import needs_shared, write_homework

from ferkit import CLASS_NAMES
from ferkit.data import load_data


def write_folders(root, x, y, x_test, y_test, suffix=".png"):
    """Faces (n, 2304) as 48x48 PNGs under root/train/<class>/ and root/test/<class>/."""
    import cv2

    for split, faces, labels in (("train", x, y), ("test", x_test, y_test)):
        for i, (face, label) in enumerate(zip(faces, labels)):
            folder = root / split / CLASS_NAMES[label]
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(
                str(folder / f"{i:05d}{suffix}"), np.asarray(face, np.uint8).reshape(48, 48)
            )


@pytest.fixture
def folders(tmp_path):
    arrays = write_homework(tmp_path / "csv", n_test=21)
    y_test = np.arange(21) % 7
    write_folders(tmp_path / "img", arrays["x"], arrays["y"], arrays["x_test"], y_test)
    return tmp_path / "img", arrays, y_test


def test_folders_load_the_same_pixels_and_labels(folders):
    root, arrays, y_test = folders
    data = load_data(root)
    # Sorted by class folder, then file name.
    order = sorted(range(70), key=lambda i: (CLASS_NAMES[arrays["y"][i]], i))
    np.testing.assert_array_equal(data.x_train.reshape(70, -1), arrays["x"][order])
    np.testing.assert_array_equal(data.y_train, arrays["y"][order])
    test_order = sorted(range(21), key=lambda i: (CLASS_NAMES[y_test[i]], i))
    np.testing.assert_array_equal(data.x_test.reshape(21, -1), arrays["x_test"][test_order])
    assert list(data.test_ids) == list(range(21)) and data.public.all()
    assert data.test_names[0] == f"angry/{test_order[0]:05d}.png"
    assert data.labelled_part == "test"
    again = load_data(root)  # from the cache
    np.testing.assert_array_equal(again.x_train, data.x_train)
    assert again.fingerprint == data.fingerprint


def test_predict_on_folders_reports_test_accuracy_and_file_names(folders, tmp_path, capsys):
    from conftest import ROOT

    from ferkit.deploy.predict_cli import predict_main

    root, _, _ = folders
    out, probs = tmp_path / "s.csv", tmp_path / "p.csv"
    model = str(ROOT / "models" / "dnn.keras")
    predict_main(["--model", model, "--data", str(root), "--out", str(out), "--probs", str(probs)])
    assert "test accuracy" in capsys.readouterr().out
    lines = probs.read_text().splitlines()
    assert lines[0].startswith("id,file,angry,") and lines[1].startswith("0,angry/")
    assert len(out.read_text().splitlines()) == 22


def test_other_sizes_and_colour_are_converted_once(tmp_path, capsys):
    import cv2

    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for c in CLASS_NAMES:
            folder = tmp_path / split / c
            folder.mkdir(parents=True)
            for i in range(2):
                cv2.imwrite(
                    str(folder / f"{i}.jpg"), rng.integers(0, 256, (96, 80, 3)).astype(np.uint8)
                )
    data = load_data(tmp_path)
    assert data.x_train.shape == (14, 48, 48, 1) and data.x_train.dtype == np.uint8
    err = capsys.readouterr().err
    assert err.count("were not 48x48") == 2  # once for train, once for test
    load_data(tmp_path)
    assert "48x48" not in capsys.readouterr().err  # the cache says nothing again


@pytest.mark.parametrize("problem", ["unknown class", "unreadable", "empty"])
def test_bad_folders_are_one_line_errors(folders, problem, tmp_path, capsys):
    from ferkit.deploy.predict_cli import predict_main

    root, _, _ = folders
    if problem == "unknown class":
        (root / "train" / "bored").mkdir()
        (root / "train" / "bored" / "a.png").write_bytes(b"x")
        expected = "bored: unknown class folder"
    elif problem == "unreadable":
        (root / "train" / "happy" / "zz.png").write_bytes(b"not a png")
        expected = "zz.png: not a readable image"
    else:
        (root / "test" / "fear").rename(root / "fear_elsewhere")
        (root / "test" / "fear").mkdir()
        expected = "fear: empty class folder"
    out = tmp_path / "s.csv"
    with pytest.raises(SystemExit) as code:
        predict_main(["--data", str(root), "--out", str(out)])
    err = capsys.readouterr().err
    assert code.value.code == 2 and expected in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@needs_shared
@pytest.mark.slow
def test_the_shared_data_written_as_folders_reads_back_the_same(tmp_path, shared_data):
    """Every eighth real face (3,589 training faces, 449 public ones: real pixels and
    every class, in seconds rather than the half minute all 32,298 files take)."""
    csv = shared_data()
    x, y = csv.x_train[::8], csv.y_train[::8]
    public = np.flatnonzero(csv.public)[::8]
    write_folders(
        tmp_path, x.reshape(-1, 2304), y,
        csv.x_test[public].reshape(-1, 2304), csv.test_labels[public],
    )  # fmt: skip
    data = load_data(tmp_path)
    order = np.lexsort((np.arange(y.size), [CLASS_NAMES[k] for k in y]))
    np.testing.assert_array_equal(data.x_train, x[order])
    np.testing.assert_array_equal(data.y_train, y[order])
    assert data.x_test.shape[0] == public.size
