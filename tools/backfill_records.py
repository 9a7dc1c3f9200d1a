"""Adds what newer records keep to saved runs recorded before: per-class accuracies and
the agreement with the FER+ majority.

Usage: `python tools/backfill_records.py models/cnn.keras ...` (with `--data`).
"""

import argparse

import numpy as np

from ferkit.cli import add_data_arg
from ferkit.data import load_data
from ferkit.record import ferplus_agreement, per_class_accuracies, predictions, write_record
from ferkit.runs import load_run, run_paths


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+")
    add_data_arg(p)
    args = p.parse_args(argv)
    data = load_data(args.data)
    for path in args.models:
        model, record = load_run(path)
        data.check_trained_on(record, path)
        val_idx = np.asarray(record["split"]["val_indices"])
        predicted = predictions(model, data, val_idx)
        record["per_class"] = per_class_accuracies(predicted, data.class_names)
        if "public" in predicted and (agreement := ferplus_agreement(data, predicted["public"][0])):
            record["ferplus_agreement"] = agreement
        write_record(run_paths(path)[1], record)
        print(path, record.get("ferplus_agreement"))


if __name__ == "__main__":
    main()
