"""Parsing both CSV layouts, the cache, and the validation split."""

import gzip

import numpy as np
import pytest
from conftest import needs_shared, write_homework, write_kaggle

from ferkit.data import cache, load_data, validation_split


@pytest.mark.parametrize("gz", [False, True])
def test_homework_layout_round_trips(tmp_path, gz):
    arrays = write_homework(tmp_path, gz=gz)
    data = load_data(tmp_path)
    assert data.x_train.shape == (70, 48, 48, 1) and data.x_train.dtype == np.uint8
    np.testing.assert_array_equal(data.x_train.reshape(70, -1), arrays["x"])
    np.testing.assert_array_equal(data.y_train, arrays["y"])
    np.testing.assert_array_equal(data.x_test.reshape(20, -1), arrays["x_test"])
    np.testing.assert_array_equal(data.test_ids, np.arange(20))
    np.testing.assert_array_equal(data.test_labels[:10], arrays["public"])
    assert (data.test_labels[10:] == -1).all()
    assert data.public.sum() == 10


def test_crlf_and_missing_final_newline(tmp_path):
    arrays = write_homework(tmp_path)
    text = (tmp_path / "train.csv").read_text()
    (tmp_path / "train.csv").write_bytes(text.rstrip("\n").replace("\n", "\r\n").encode())
    data = load_data(tmp_path, use_cache=False)
    np.testing.assert_array_equal(data.x_train.reshape(70, -1), arrays["x"])


def test_loose_whitespace_takes_the_careful_path(tmp_path):
    arrays = write_homework(tmp_path)
    path = tmp_path / "train.csv"
    lines = path.read_text().split("\n")
    lines[3] = lines[3].replace(" ", "  ", 5)  # double spaces are still 2304 pixels
    path.write_text("\n".join(lines))
    data = load_data(tmp_path, use_cache=False)
    np.testing.assert_array_equal(data.x_train.reshape(70, -1), arrays["x"])


def test_test_csv_is_optional(tmp_path):
    write_homework(tmp_path)
    (tmp_path / "test.csv").unlink()
    (tmp_path / "public_labels.csv").unlink()
    data = load_data(tmp_path)
    assert data.x_test.shape == (0, 48, 48, 1) and not data.has_public_labels


@pytest.mark.parametrize("as_dir", [False, True])
def test_kaggle_layout(tmp_path, as_dir):
    rows = write_kaggle(tmp_path / "fer2013.csv")
    data = load_data(tmp_path if as_dir else tmp_path / "fer2013.csv")
    assert data.x_train.shape == (30, 48, 48, 1)
    np.testing.assert_array_equal(data.y_train, [r[0] for r in rows[:30]])
    # Test ids run over PublicTest then PrivateTest, labels known for all of them.
    np.testing.assert_array_equal(data.test_ids, np.arange(14))
    np.testing.assert_array_equal(data.test_labels, [r[0] for r in rows[30:]])
    np.testing.assert_array_equal(data.x_test[9].ravel(), rows[39][1])
    assert data.public.tolist() == [True] * 8 + [False] * 6


def test_kaggle_test_ids_follow_public_then_private_order(tmp_path):
    counts = (("PrivateTest", 2), ("Training", 14), ("PublicTest", 3))
    rows = write_kaggle(tmp_path / "fer2013.csv", counts=counts)
    data = load_data(tmp_path / "fer2013.csv")
    expected = [r[0] for r in rows[16:]] + [r[0] for r in rows[:2]]
    np.testing.assert_array_equal(data.test_labels, expected)
    assert data.public.tolist() == [True] * 3 + [False] * 2


def test_cache_is_used_and_keyed_by_content(tmp_path, monkeypatch):
    write_homework(tmp_path / "d")
    first = load_data(tmp_path / "d")
    cached = sorted((tmp_path / "d" / ".ferkit_cache").glob("train.csv.*.npz"))
    assert len(cached) == 1
    calls = []
    monkeypatch.setattr("ferkit.data.load.read_key_pixel_csv", lambda *a, **k: calls.append(a))
    again = load_data(tmp_path / "d")
    assert calls == []  # served from the cache
    np.testing.assert_array_equal(again.x_train, first.x_train)


def test_changed_file_is_reparsed(tmp_path):
    write_homework(tmp_path, seed=0)
    before = load_data(tmp_path)
    arrays = write_homework(tmp_path, seed=1)
    after = load_data(tmp_path)
    np.testing.assert_array_equal(after.x_train.reshape(70, -1), arrays["x"])
    assert after.fingerprint != before.fingerprint


def test_corrupt_cache_is_rebuilt(tmp_path):
    arrays = write_homework(tmp_path)
    load_data(tmp_path)
    for f in (tmp_path / ".ferkit_cache").glob("*.npz"):
        blob = bytearray(f.read_bytes())
        blob[len(blob) // 2] ^= 0xFF  # flip a pixel byte: checksum must catch it
        f.write_bytes(bytes(blob))
    data = load_data(tmp_path)
    np.testing.assert_array_equal(data.x_train.reshape(70, -1), arrays["x"])
    for f in (tmp_path / "junk").parent.glob(".ferkit_cache/*.npz"):
        f.write_bytes(b"not an npz")
    data = load_data(tmp_path)
    np.testing.assert_array_equal(data.x_train.reshape(70, -1), arrays["x"])


def test_read_only_data_folder_caches_in_user_folder(tmp_path):
    write_homework(tmp_path / "ro")
    (tmp_path / "ro").chmod(0o555)
    try:
        load_data(tmp_path / "ro")
        assert not (tmp_path / "ro" / ".ferkit_cache").exists()
        assert list((tmp_path / "user-cache" / "ferkit").glob("train.csv.*.npz"))
    finally:
        (tmp_path / "ro").chmod(0o755)
    assert cache.cache_dirs(tmp_path / "ro" / "x")[0].name == ".ferkit_cache"


def test_gzip_with_two_members(tmp_path):
    arrays = write_homework(tmp_path)
    text = (tmp_path / "train.csv").read_bytes()
    cut = text.index(b"\n", len(text) // 2) + 1
    (tmp_path / "train.csv").unlink()
    (tmp_path / "train.csv.gz").write_bytes(gzip.compress(text[:cut]) + gzip.compress(text[cut:]))
    data = load_data(tmp_path, use_cache=False)
    np.testing.assert_array_equal(data.x_train.reshape(70, -1), arrays["x"])


def test_validation_split_is_stratified_and_seeded():
    labels = np.repeat(np.arange(7), [40, 10, 40, 70, 50, 30, 50])
    tr, va = validation_split(labels, 0.1, seed=3)
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == labels.size
    assert abs(len(va) - 29) <= 1
    np.testing.assert_allclose(np.bincount(labels[va]), np.bincount(labels) * 0.1, atol=1)
    again = validation_split(labels, 0.1, seed=3)[1]
    other = validation_split(labels, 0.1, seed=4)[1]
    np.testing.assert_array_equal(va, again)
    assert not np.array_equal(va, other)


@needs_shared
def test_real_data_counts(shared_data):
    data = shared_data()
    assert data.x_train.shape == (28709, 48, 48, 1)
    assert np.bincount(data.y_train).tolist() == [3995, 436, 4097, 7215, 4830, 3171, 4965]
    assert data.x_test.shape == (7178, 48, 48, 1)
    np.testing.assert_array_equal(data.test_ids, np.arange(7178))
    assert data.public.sum() == 3589 and data.public[:3589].all()
    counts = np.bincount(data.test_labels[data.public], minlength=7)
    assert counts.tolist() == [467, 56, 496, 895, 653, 415, 607]
    # The first training face of FER2013 starts with these pixels.
    assert data.x_train[0].ravel()[:5].tolist() == [70, 80, 82, 72, 58]


def test_parsing_leaves_the_warning_filters_alone(tmp_path):
    """Blocks parse in threads; warnings.catch_warnings there once left every warning an
    error for the rest of the process, and a later NumPy deprecation killed training."""
    import warnings

    from conftest import write_homework

    from ferkit.data import load_data

    write_homework(tmp_path / "d", n_train=400, gz=True)
    before = list(warnings.filters)
    load_data(tmp_path / "d")
    assert warnings.filters == before


def _spreadsheet(text, bom=True, crlf=True, quotes=True, blank=True):
    """text as a spreadsheet saves it: a UTF-8 byte-order mark, CRLF line ends, every
    field quoted, blank lines after the last row."""
    lines = text.rstrip("\n").split("\n")
    if quotes:
        lines = [",".join(f'"{f}"' for f in line.split(",")) for line in lines]
    out = ("\r\n" if crlf else "\n").join(lines) + ("\r\n" if crlf else "\n")
    if blank:
        out += "\r\n\r\n" if crlf else "\n\n"
    return ("\ufeff" if bom else "") + out


@pytest.mark.parametrize(
    "variant",
    [
        {"bom": True, "crlf": False, "quotes": False, "blank": False},
        {"bom": False, "crlf": True, "quotes": False, "blank": False},
        {"bom": False, "crlf": False, "quotes": True, "blank": False},
        {"bom": False, "crlf": False, "quotes": False, "blank": True},
        {"bom": True, "crlf": True, "quotes": True, "blank": True},
    ],
    ids=["bom", "crlf", "quoted", "trailing-blank", "all"],
)
def test_spreadsheet_encodings_read_like_the_plain_files(tmp_path, variant):
    from conftest import write_homework, write_kaggle

    from ferkit.data import load_data

    plain = tmp_path / "plain"
    write_homework(plain)
    saved = tmp_path / "saved"
    saved.mkdir()
    for name in ("train.csv", "test.csv", "public_labels.csv"):
        text = (plain / name).read_text()
        (saved / name).write_text(_spreadsheet(text, **variant), encoding="utf-8", newline="")
    a, b = load_data(plain, use_cache=False), load_data(saved, use_cache=False)
    for field in ("x_train", "y_train", "x_test", "test_ids", "test_labels", "public"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    kaggle = tmp_path / "fer2013.csv"
    write_kaggle(kaggle)
    spread = tmp_path / "k" / "fer2013.csv"
    spread.parent.mkdir()
    spread.write_text(_spreadsheet(kaggle.read_text(), **variant), encoding="utf-8", newline="")
    a, b = load_data(kaggle, use_cache=False), load_data(spread, use_cache=False)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.test_labels, b.test_labels)


def test_a_blank_line_inside_the_rows_is_still_an_error(tmp_path):
    from conftest import write_homework

    from ferkit.data import load_data
    from ferkit.errors import InputError

    write_homework(tmp_path / "d")
    lines = (tmp_path / "d" / "train.csv").read_text().split("\n")
    lines.insert(5, "")
    (tmp_path / "d" / "train.csv").write_text("\n".join(lines))
    with pytest.raises(InputError, match="line 6: empty line"):
        load_data(tmp_path / "d", use_cache=False)
