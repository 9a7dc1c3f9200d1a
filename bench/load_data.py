"""How fast FER2013's train.csv.gz loads: ferkit's parser and cache against the usual code.

Prints a Markdown table and writes it to bench/results/load_data.md.
Usage: python bench/load_data.py [--data DIR] [--repeat N]
"""

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from report import default_data, publish

from ferkit.data.csvio import read_key_pixel_csv
from ferkit.machine import describe

ROOT = Path(__file__).resolve().parents[1]


def homework_loop(path):
    """The usual homework loader: split every row in Python."""
    labels, pixels = [], []
    with gzip.open(path, "rt") as f:
        next(f)
        for line in f:
            label, feature = line.split(",")
            labels.append(int(label))
            pixels.append(np.array(feature.split(), dtype=np.uint8))
    return np.array(labels), np.stack(pixels)


def pandas_split(path):
    df = pd.read_csv(path)
    pixels = np.array(df["feature"].str.split().tolist(), dtype=np.uint8)
    return df["label"].to_numpy(), pixels


def gunzip_only(path):
    with gzip.open(path, "rb") as f:
        return f.read()


def fresh_process_load(data_dir, cache_home):
    """Wall time of load_data() in a new process (imports excluded, cache as given)."""
    code = (
        "import time; t = time.perf_counter(); from ferkit.data import load_data; "
        f"load_data({str(data_dir)!r}); print(time.perf_counter() - t)"
    )
    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return float(out.stdout.strip())


def write_folders(data_dir, root):
    """The CSV data as 48x48 PNGs in train/<class>/ and test/<class>/ (the public half,
    the labelled test faces); returns how many."""
    import cv2

    from ferkit import CLASS_NAMES
    from ferkit.data import load_data

    data = load_data(data_dir)
    faces, labels = data.public_faces
    n = 0
    for split, x, y in (("train", data.x_train, data.y_train), ("test", faces, labels)):
        for i, (face, label) in enumerate(zip(x, y)):
            folder = root / split / CLASS_NAMES[label]
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"{i:05d}.png"), face[:, :, 0])
            n += 1
    return n


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=default_data())
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    train = Path(args.data) / "train.csv.gz"
    # Reference parse to check every method returns the same arrays.
    keys, pixels = read_key_pixel_csv(train, ("label", "feature"))
    for fn in (homework_loop, pandas_split):
        k, px = fn(train)
        assert np.array_equal(k, keys) and np.array_equal(px, pixels), fn.__name__
    rows = [
        ("gunzip only (floor for any parser)", best_of(lambda: gunzip_only(train), args.repeat)),
        ("homework loop: split each row in Python", best_of(lambda: homework_loop(train), 1)),
        ("pandas read_csv + str.split", best_of(lambda: pandas_split(train), 1)),
        (
            "ferkit, parse (no cache)",
            best_of(lambda: read_key_pixel_csv(train, ("label", "feature")), args.repeat),
        ),
    ]
    with tempfile.TemporaryDirectory() as cache:
        first = fresh_process_load(args.data, cache)  # parses train+test, writes the cache
        cached = min(fresh_process_load(args.data, cache) for _ in range(args.repeat))
    rows.append(("ferkit load_data, first time (train + test, writes cache)", first))
    rows.append(("ferkit load_data, cached (train + test)", cached))
    with tempfile.TemporaryDirectory() as scratch:
        n = write_folders(args.data, Path(scratch) / "fer2013")
        with tempfile.TemporaryDirectory() as cache:
            first = fresh_process_load(Path(scratch) / "fer2013", cache)
            cached = min(
                fresh_process_load(Path(scratch) / "fer2013", cache) for _ in range(args.repeat)
            )
    rows.append((f"image folders, first time ({n:,} PNGs, writes cache)", first))
    rows.append((f"image folders, cached ({n:,} PNGs)", cached))
    table = [
        f"Loading `train.csv.gz` (28,709 faces), and the same data as image folders, "
        f"on {describe()['cpu']}, {os.cpu_count()} cores; best of {args.repeat} where cheap.",
        "",
        "| method | seconds |",
        "| --- | ---: |",
    ]
    table += [f"| {name} | {sec:.2f} |" for name, sec in rows]
    publish("load_data", table)


if __name__ == "__main__":
    main()
