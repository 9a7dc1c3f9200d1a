"""Adds what newer records keep to saved runs recorded before: per-class accuracies and
the agreement with the FER+ majority, and a bfloat16 model's accuracies in float32.

Usage: `python tools/backfill_records.py models/cnn.keras ...` (with `--data`).
"""

import argparse

import numpy as np

from ferkit.cli import add_data_arg
from ferkit.data import load_data
from ferkit.record import (
    ferplus_agreement,
    float32_accuracies,
    load_run,
    per_class_accuracies,
    predictions,
    write_record,
)
from ferkit.runs import run_paths


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+")
    add_data_arg(p)
    args = p.parse_args(argv)
    for path in args.models:
        model, record = load_run(path)
        # A FER+ run is measured against the labels it learnt.
        data = load_data(args.data, labels=record.get("labels", "fer2013"))
        data.check_trained_on(record, path)
        val_idx = np.asarray(record["split"]["val_indices"])
        # Only what a record lacks: measures computed again on another CPU would differ
        # in bfloat16's rounding from those recorded.
        if "per_class" not in record:
            predicted = predictions(model, data, val_idx)
            record["per_class"] = per_class_accuracies(predicted, data.class_names)
            public = predicted.get("public")
            if public is not None and (agreement := ferplus_agreement(data, public[0])):
                record["ferplus_agreement"] = agreement
        if "float32" not in record and (exact := float32_accuracies(model, data, val_idx)):
            record["float32"] = exact
        write_record(run_paths(path)[1], record)
        print(path, record.get("float32"))


if __name__ == "__main__":
    main()
