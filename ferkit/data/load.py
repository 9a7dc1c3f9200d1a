"""Loading FER2013 in the homework layout or as Kaggle's fer2013.csv, with a cache."""

import hashlib
import os
from pathlib import Path

import numpy as np

from ferkit import IMAGE_SIZE, NUM_CLASSES, NUM_PIXELS
from ferkit.data.cache import cached
from ferkit.data.csvio import (
    body_lines,
    decompressed_chunks,
    is_int,
    read_key_pixel_csv,
    read_raw,
    read_text,
)
from ferkit.data.dataset import FERData
from ferkit.data.folders import is_image_folder, load_folders
from ferkit.data.labels import with_ferplus_labels
from ferkit.errors import InputError

TRAIN_NAMES = ("train.csv", "train.csv.gz")
TEST_NAMES = ("test.csv", "test.csv.gz")
KAGGLE_NAMES = ("fer2013.csv", "fer2013.csv.gz")
PUBLIC_LABELS = "public_labels.csv"
KAGGLE_USAGES = ("Training", "PublicTest", "PrivateTest")
WHERE_TO_GET = (
    "fer2013.csv comes from Kaggle's competition challenges-in-representation-learning-"
    "facial-expression-recognition-challenge (put it in this folder); data/README.md says "
    "where every layout comes from"
)


def default_data_path():
    return os.environ.get("FER_DATA") or "data"


def load_data(path=None, use_cache=True, labels="fer2013", ferplus=None):
    """Loads a homework directory (train/test CSVs), a Kaggle fer2013.csv, or image
    folders (train/<class>/*, test/<class>/*).

    Args:
        path: a directory or a fer2013.csv[.gz] file; default $FER_DATA or data/.
        use_cache: keep parsed arrays in a binary cache keyed by file content.
        labels: "fer2013", or the FER+ relabelling: "ferplus-majority" or "ferplus-votes".
        ferplus: the FER+ file (default: fer2013new.csv beside the data).
    """
    data = _load_faces(Path(path or default_data_path()), use_cache)
    if labels == "fer2013":
        return data
    return with_ferplus_labels(data, labels, ferplus)


def _load_faces(path, use_cache):
    if path.is_file():
        return _load_kaggle(path, use_cache)
    if not path.is_dir():
        raise InputError(path, "no such file or directory")
    if is_image_folder(path):
        return load_folders(path, use_cache)
    kaggle = _first_existing(path, KAGGLE_NAMES)
    train = _first_existing(path, TRAIN_NAMES)
    if train is None and kaggle is not None:
        return _load_kaggle(kaggle, use_cache)
    if train is None:
        names = ", ".join(TRAIN_NAMES + KAGGLE_NAMES)
        raise InputError(
            path,
            f"no training data: expected one of {names}, or a train/ folder of class "
            f"folders; {WHERE_TO_GET}",
        )
    return _load_homework(path, train, _first_existing(path, TEST_NAMES), use_cache)


def _first_existing(folder, names):
    return next((folder / n for n in names if (folder / n).exists()), None)


def _load_homework(folder, train, test, use_cache):
    files = {}
    y_train, x_train = _read_cached(train, ("label", "feature"), files, use_cache)
    _check_labels(train, y_train)
    if test is None:
        test_ids = np.zeros(0, np.int64)
        x_test = np.zeros((0, NUM_PIXELS), np.uint8)
    else:
        test_ids, x_test = _read_cached(test, ("id", "feature"), files, use_cache)
        _check_ids(test, test_ids)
    test_labels = np.full(test_ids.shape, -1, np.int64)
    public_file = folder / PUBLIC_LABELS
    if public_file.exists():
        _apply_public_labels(public_file, test_ids, test_labels, files)
    return FERData(
        x_train=_as_images(x_train),
        y_train=y_train,
        x_test=_as_images(x_test),
        test_ids=test_ids,
        test_labels=test_labels,
        public=test_labels >= 0,
        source=str(folder),
        files=files,
        layout="homework",
    )


def _read_cached(path, columns, files, use_cache):
    raw = read_raw(path)
    digest = hashlib.sha256(raw).hexdigest()
    files[path.name] = digest

    def parse():
        return read_key_pixel_csv(path, columns, raw=raw)

    if not use_cache:
        return parse()
    return cached(path, digest, parse)


def _load_kaggle(path, use_cache):
    raw = read_raw(path)
    digest = hashlib.sha256(raw).hexdigest()

    def parse():
        return _parse_kaggle(path, raw)

    keys, pixels = cached(path, digest, parse) if use_cache else parse()
    labels, usage = keys // 3, keys % 3  # packed so the cache holds two arrays
    train, public, private = (usage == i for i in range(3))
    test = public | private
    order = np.concatenate([np.flatnonzero(public), np.flatnonzero(private)])
    x_test = pixels[order]
    return FERData(
        x_train=_as_images(pixels[train]),
        y_train=labels[train],
        x_test=_as_images(x_test),
        test_ids=np.arange(int(test.sum()), dtype=np.int64),
        test_labels=labels[order],
        public=np.arange(order.size) < int(public.sum()),
        source=str(path),
        files={path.name: digest},
        layout="kaggle",
    )


def _parse_kaggle(path, raw):
    """Parses emotion,pixels,Usage; returns (label * 3 + usage index, pixels)."""
    text = b"".join(decompressed_chunks(path, raw))
    body = body_lines(path, text, ("emotion", "pixels", "Usage"))
    usage = np.empty(len(body), np.int64)
    rows = [b"emotion,pixels"]
    for i, line in enumerate(body):
        fields = line.split(b",")
        if len(fields) != 3:
            raise InputError(path, f"expected 3 fields, found {len(fields)}", i + 2)
        name = fields[2].strip().decode("ascii", "replace")
        if name not in KAGGLE_USAGES:
            raise InputError(
                path, f"Usage '{name}' is not one of {', '.join(KAGGLE_USAGES)}", i + 2
            )
        usage[i] = KAGGLE_USAGES.index(name)
        rows.append(fields[0] + b"," + fields[1])
    labels, pixels = read_key_pixel_csv(path, ("emotion", "pixels"), chunks=[b"\n".join(rows)])
    _check_labels(path, labels)
    return labels * 3 + usage, pixels


def _check_labels(path, labels):
    bad = np.flatnonzero((labels < 0) | (labels >= NUM_CLASSES))
    if bad.size:
        i = int(bad[0])
        raise InputError(path, f"label {labels[i]} is not a class 0-{NUM_CLASSES - 1}", i + 2)


def _check_ids(path, ids):
    if ids.size and ids.min() < 0:
        i = int(np.argmax(ids < 0))
        raise InputError(path, f"id {ids[i]} is negative", i + 2)
    _, first = np.unique(ids, return_index=True)
    if first.size != ids.size:
        dup = np.setdiff1d(np.arange(ids.size), first)[0]
        raise InputError(path, f"duplicate id {ids[dup]}", int(dup) + 2)


def _apply_public_labels(path, test_ids, test_labels, files):
    raw, text = read_text(path)
    files[path.name] = hashlib.sha256(raw).hexdigest()
    table = read_int_table(path, text, ("id", "label"))
    ids, labels = table[:, 0], table[:, 1]
    _check_ids(path, ids)
    _check_labels(path, labels)
    position = {int(v): i for i, v in enumerate(test_ids)}
    for row, (i, label) in enumerate(zip(ids, labels)):
        if int(i) not in position:
            raise InputError(path, f"id {i} is not in the test set", row + 2)
        test_labels[position[int(i)]] = label


def read_int_table(path, text, columns):
    """Parses a small all-integer CSV with header `columns` into an (n, k) int64 array."""
    body = body_lines(path, text, columns)
    out = np.empty((len(body), len(columns)), np.int64)
    for i, line in enumerate(body):
        fields = line.decode("ascii", "replace").split(",")
        if len(fields) != len(columns):
            raise InputError(path, f"expected {len(columns)} fields, found {len(fields)}", i + 2)
        for j, (name, value) in enumerate(zip(columns, fields)):
            value = value.strip()
            if not is_int(value):
                raise InputError(path, f"{name} '{value}' is not an integer", i + 2)
            out[i, j] = int(value)
    return out


def _as_images(pixels):
    return pixels.reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1)


def validation_split(labels, fraction, seed):
    """Stratified split of training rows; returns sorted (train_idx, val_idx)."""
    # scikit-learn takes seconds to import: every script pays only where it splits.
    from sklearn.model_selection import train_test_split

    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    idx = np.arange(labels.size)
    train_idx, val_idx = train_test_split(
        idx, test_size=fraction, stratify=labels, random_state=seed
    )
    return np.sort(train_idx), np.sort(val_idx)
