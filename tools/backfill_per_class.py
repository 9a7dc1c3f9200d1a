"""Adds per-class accuracies to saved runs recorded before runs kept them.

Usage: `python tools/backfill_per_class.py models/cnn.keras ...` (with `--data`).
"""

import argparse

import numpy as np

from ferkit.cli import add_data_arg
from ferkit.data import load_data
from ferkit.record import per_class_accuracies, write_record
from ferkit.runs import load_run, run_paths


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+")
    add_data_arg(p)
    args = p.parse_args(argv)
    data = load_data(args.data)
    for path in args.models:
        model, record = load_run(path)
        if record["data"]["fingerprint"] != data.fingerprint:
            raise SystemExit(f"error: {path} was trained on other data than {args.data}")
        val_idx = np.asarray(record["split"]["val_indices"])
        record["per_class"] = per_class_accuracies(model, data, val_idx)
        write_record(run_paths(path)[1], record)
        print(path, record["per_class"])


if __name__ == "__main__":
    main()
