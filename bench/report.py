"""Shared by the bench scripts: print a result and keep it in bench/results/."""

import json
import os
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def default_data():
    """Where the bench scripts find the data: $FER_DATA, else data/ when it holds any,
    else the shared folder beside the checkout (where the tests look too)."""
    if os.environ.get("FER_DATA"):
        return os.environ["FER_DATA"]
    local = ROOT / "data"
    if any(local.glob("train*")) or any(local.glob("fer2013.csv*")):
        return str(local)
    return str(ROOT.parent / "shared" / "data" / "fer2013")


RESULTS = BENCH / "results"
TIME_TO_ACCURACY = RESULTS / "time_to_accuracy.json"
RUNTIMES = RESULTS / "runtimes.json"


def publish(name, lines):
    """Prints the lines, writes them to bench/results/NAME.md, refreshes RESULTS.md."""
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.md").write_text(text)
    write_summary()


def time_to_accuracy_lines(results):
    """The Markdown table of bench/results/time_to_accuracy.json: one row a run."""
    lines = [
        "| recipe | CPU | cores | seed | minutes to target (validation) | best validation "
        "| public then | validation accuracy by epoch |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for recipe, r in results.items():
        for run in r["runs"]:
            reached = run["seconds_to_target"]
            val, public = run["val_by_epoch"], run["public_by_epoch"]
            best = max(range(len(val)), key=val.__getitem__) if val else None
            lines.append(
                f"| {recipe} | {r['cpu']} | {r['cores']} | {run['seed']} "
                f"| {'not reached' if reached is None else f'{reached / 60:.1f}'} "
                f"| {'-' if best is None else f'{val[best]:.4f}'} "
                f"| {'-' if best is None else f'{public[best]:.4f}'} "
                f"| {' '.join(f'{a:.3f}' for a in val)} |"
            )
        median = r.get("median_seconds_to_target")
        lines.append(
            f"| {recipe}: median | | | | {'-' if median is None else f'{median / 60:.1f}'} "
            f"(target {r['target']} {r['metric'].replace('_', ' ')}) | | | |"
        )
    return lines


def write_summary():
    """bench/RESULTS.md: every table under bench/results/, written from the files."""
    parts = ["# Benchmark results", "", "Written by the bench scripts; do not edit by hand.", ""]
    if TIME_TO_ACCURACY.exists():
        results = json.loads(TIME_TO_ACCURACY.read_text())
        parts += ["## Time to 0.62 validation accuracy (bench/time_to_accuracy.py)", ""]
        parts += time_to_accuracy_lines(results) + [""]
    titles = {
        "frontier": "Accuracy against compute (bench/frontier.py)",
        "throughput": "Throughput (bench/throughput.py)",
        "trainer": "Where an epoch of the suite trainer goes (bench/throughput.py --trainer)",
        "load_data": "Loading the data (bench/load_data.py)",
        "runtimes": "Inference on each runtime (bench/runtimes.py)",
        "ascent": "Gradient ascent (bench/ascent.py)",
        "calibrators": "Which calibrator (bench/calibrators.py)",
    }
    for name, title in titles.items():
        path = RESULTS / f"{name}.md"
        if path.exists():
            parts += [f"## {title}", "", path.read_text().rstrip(), ""]
    (BENCH / "RESULTS.md").write_text("\n".join(parts))
