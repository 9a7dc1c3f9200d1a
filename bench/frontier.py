"""Accuracy against compute: every shipped model's validation and public accuracy (with
and without test-time augmentation), its size, its inference speed and the CPU hours
of its whole lineage (the runs it started from, its teachers, its ensemble members).

Reads the models' JSON records and bench/results/runtimes.json (run bench/runtimes.py
first for the speeds); writes bench/results/frontier.md and the table in RESULTS.md. The
curve also reads the records of runs kept as points, not shipped (bench/results/points/:
a run's JSON record; its weights too where later runs will start from them).
Usage: python bench/frontier.py [--models NAME ...]
"""

import argparse
import json
from pathlib import Path

from report import RUNTIMES, publish

from ferkit.record import lineage_cost, read_record
from ferkit.report import recipe_text

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("dnn", "fast", "cnn_stage1", "cnn", "small", "strong", "best", "ferplus")
POINTS = ROOT / "bench" / "results" / "points"
# The strong nets trained from scratch on FER2013's labels (no teacher), whose accuracy
# against their lineage's CPU hours makes the curve of each architecture.
CURVE_NETS = ("vgg", "wide", "lean")


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


def _named(record):
    trained = (record.get("trained_as") or {}).get("name")
    return f"{record['name']} (trained as {trained})" if trained else record["name"]


def curve_lines(records, folder):
    """The curve: each strong net's validation accuracy (one view and TTA) against the CPU
    hours of its lineage, by architecture, cheapest first. A run shipped under another
    name appears once, by its shipped name."""
    shipped = {r["trained_as"]["name"] for r in records if r.get("trained_as")}
    points = [
        (r["model"], lineage_cost(r, folder)["cpu_hours"], r)
        for r in records
        if r.get("model") in CURVE_NETS
        and r.get("labels", "fer2013") == "fer2013"
        and not r.get("teacher")
        and r["name"] not in shipped
    ]
    rows = []
    for net, hours, r in sorted(points, key=lambda p: (p[0], p[1])):
        cpu = (r.get("machine") or {}).get("cpu") or "not recorded"
        budget = r["config"].get("budget_minutes")
        how = f"{budget:g} minutes' budget" if budget else f"{r['epochs_run']} epochs"
        rows.append(
            f"| {net} | {_named(r)} | {recipe_text(r)} | {how} | {hours:.2f} "
            f"| {_acc(r['val_accuracy'])} "
            f"| {_acc((r.get('tta') or {}).get('val_accuracy'))} | {cpu} |"
        )
    return [
        "",
        "The curve: each strong net trained from scratch on FER2013's labels, its validation "
        "accuracy against the CPU hours of its lineage (a run started from another counts "
        "both). CPU hours depend on the machine, which each row names.",
        "",
        "| net | run | recipe | sized by | CPU hours | validation | validation, TTA | machine |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | --- |",
        *rows,
    ]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(SHIPPED))
    p.add_argument("--models-dir", default=str(ROOT / "models"))
    args = p.parse_args(argv)
    speeds = json.loads(RUNTIMES.read_text()) if RUNTIMES.exists() else {}
    folder = Path(args.models_dir)
    records = [
        read_record(folder / f"{name}.json")
        for name in args.models
        if (folder / f"{name}.json").exists()
    ]
    rows = [row(r, speeds.get(r["name"], {}), folder) for r in records]
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
            *curve_lines(records + [read_record(p) for p in sorted(POINTS.glob("*.json"))], folder),
        ],
    )


if __name__ == "__main__":
    main()
