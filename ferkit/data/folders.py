"""FER2013 as image folders: `PATH/train/<class>/*` and `PATH/test/<class>/*`, PNG or
JPEG of any size, the layout of the most-downloaded copy on Kaggle.

Images become 48x48 grey the way the photos path makes faces (OpenCV's grey conversion,
area resizing). Files are read in sorted order (class folder, then file name), which fixes
the test ids. The parsed arrays are cached like the CSVs', keyed by the files' names,
sizes and modification times, so a cached load reads no image.
"""

import hashlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from ferkit import CLASS_NAMES, IMAGE_SIZE
from ferkit.data.cache import cached, checksum_of
from ferkit.data.dataset import FERData
from ferkit.errors import InputError

SUFFIXES = (".png", ".jpg", ".jpeg")


def is_image_folder(path):
    """Whether path holds the image-folder layout (a train/ folder of class folders)."""
    return (Path(path) / "train").is_dir()


def _listing(split):
    """[(path, label, "class/name", stat key)] of every image under split/<class>/,
    sorted; plain strings, since a cached load of 35,887 files is mostly this listing."""
    entries = []
    classes = {name: k for k, name in enumerate(CLASS_NAMES)}
    for folder in sorted(p for p in split.iterdir() if not p.name.startswith(".")):
        if not folder.is_dir():
            raise InputError(folder, f"expected only class folders in {split}")
        label = classes.get(folder.name.lower())
        if label is None:
            raise InputError(folder, f"unknown class folder; expected {', '.join(CLASS_NAMES)}")
        images = sorted(
            (f for f in os.scandir(folder) if not f.name.startswith(".") and f.is_file()),
            key=lambda f: f.name,
        )
        for entry in images:
            if os.path.splitext(entry.name)[1].lower() not in SUFFIXES:
                raise InputError(entry.path, "not a PNG or JPEG image")
            stat = entry.stat()
            name = f"{folder.name}/{entry.name}"
            entries.append((entry.path, label, name, (stat.st_size, stat.st_mtime_ns)))
        if not images:
            raise InputError(folder, "empty class folder")
    if not entries:
        raise InputError(split, "no class folders with images")
    return entries


def _read_face(path):
    """(48x48 uint8 grey face, whether it had to be resized)."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(path, "not a readable image")
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if gray.shape == (IMAGE_SIZE, IMAGE_SIZE):
        return gray, False
    return cv2.resize(gray, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA), True


def read_split(split, use_cache=True):
    """(labels int64 (n,), pixels uint8 (n, 48, 48, 1), relative names, content digest)."""
    split = Path(split)
    if not split.is_dir():
        raise InputError(split, "no such folder")
    entries = _listing(split)
    key = hashlib.sha256("\n".join(f"{name} {stat}" for _, _, name, stat in entries).encode())

    def parse():
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            faces = list(pool.map(_read_face, [p for p, _, _, _ in entries]))
        resized = sum(r for _, r in faces)
        if resized:
            print(
                f"note: {split}: {resized} of {len(faces)} images were not 48x48 grey; "
                "resized to 48x48 and converted as photos are",
                file=sys.stderr,
            )
        labels = np.array([label for _, label, _, _ in entries], np.int64)
        return labels, np.stack([f for f, _ in faces]).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1)

    if use_cache:
        labels, pixels, digest = cached(split, key.hexdigest(), parse, with_checksum=True)
    else:
        labels, pixels = parse()
        digest = checksum_of(labels, pixels)
    return labels, pixels, [name for _, _, name, _ in entries], digest


def load_folders(path, use_cache=True):
    """A FERData from PATH/train/<class>/* and, if present, PATH/test/<class>/*, whose
    labels are all known and reported as "test"."""

    path = Path(path)
    y_train, x_train, _, train_digest = read_split(path / "train", use_cache)
    files = {"train/": train_digest}
    if (path / "test").is_dir():
        y_test, x_test, names, files["test/"] = read_split(path / "test", use_cache)
    else:
        y_test, x_test, names = np.zeros(0, np.int64), np.zeros((0, 48, 48, 1), np.uint8), []
    return FERData(
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        test_ids=np.arange(len(y_test), dtype=np.int64),
        test_labels=y_test,
        public=np.ones(len(y_test), bool),
        source=str(path),
        files=files,
        test_names=tuple(names),
        layout="folders",
        labelled_part="test",
    )
