"""Accuracy against compute: every shipped model's validation and public accuracy (with
and without test-time augmentation), its size, its inference speed and the CPU hours
of its whole lineage (the runs it started from, its teachers, its ensemble members).

Reads the models' JSON records and bench/results/runtimes.json (run bench/runtimes.py
first for the speeds); writes bench/results/frontier.md and the table in RESULTS.md.
Usage: python bench/frontier.py [--models NAME ...]
"""

import argparse
import json
from pathlib import Path

from report import RUNTIMES, publish

from ferkit.record import lineage_cost, read_record

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("dnn", "fast", "cnn_stage1", "cnn", "small", "strong", "best", "ferplus")


def _acc(value):
    return "-" if value is None else f"{value:.4f}"


def row(record, speeds, models_dir):
    """One table row of a run record."""
    tta = record.get("tta") or {}
    cost = record.get("lineage") or lineage_cost(record, models_dir)
    runtime = max(speeds, key=lambda k: speeds[k]["single"], default=None)
    single = "-" if runtime is None else f"{speeds[runtime]['single']:,} ({runtime})"
    batched = max((s["batched"] for s in speeds.values()), default=None)
    return (
        f"| {record['name']} | {record.get('labels', 'fer2013')} "
        f"| {_acc(record['val_accuracy'])} | {_acc(tta.get('val_accuracy'))} "
        f"| {_acc(record['public_accuracy'])} | {_acc(tta.get('public_accuracy'))} "
        f"| {record['params']:,} | {single} | {'-' if batched is None else f'{batched:,}'} "
        f"| {cost['cpu_hours']:.2f} |"
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(SHIPPED))
    p.add_argument("--models-dir", default=str(ROOT / "models"))
    args = p.parse_args(argv)
    speeds = json.loads(RUNTIMES.read_text()) if RUNTIMES.exists() else {}
    folder = Path(args.models_dir)
    rows = [
        row(read_record(folder / f"{name}.json"), speeds.get(name, {}), folder)
        for name in args.models
        if (folder / f"{name}.json").exists()
    ]
    publish(
        "frontier",
        [
            "Accuracy from the models' records (FER+ models against the FER+ majority); "
            "inference speed from bench/runtimes.py on the machine it names: faces per "
            "second one face at a time on the fastest runtime, and in batches of 512; CPU "
            "hours: wall-clock training hours x cores, summed over the model's lineage.",
            "",
            "| model | labels | validation | validation, TTA | public | public, TTA | params "
            "| faces/s, one at a time | faces/s, batched | CPU hours |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows,
        ],
    )


if __name__ == "__main__":
    main()
