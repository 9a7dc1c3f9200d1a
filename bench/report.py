"""Shared by the bench scripts: print a result and keep it in bench/results/."""

import json
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
TIME_TO_ACCURACY = RESULTS / "time_to_accuracy.json"


def publish(name, lines):
    """Prints the lines, writes them to bench/results/NAME.md, refreshes RESULTS.md."""
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.md").write_text(text)
    write_summary()


def time_to_accuracy_lines(results, target=0.62):
    """The Markdown table of bench/results/time_to_accuracy.json."""
    lines = [
        "| recipe | cores | budget (min) | minutes to "
        f"{target} public | best public | public accuracy by epoch |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for recipe, r in results.items():
        reached = r.get(f"seconds_to_{target}")
        accs = r["public_acc_by_epoch"]
        lines.append(
            f"| {recipe} | {r['cores']} "
            + (f"| {r['budget_minutes']:g} " if r["budget_minutes"] else f"| {r['source']} run ")
            + f"| {'not reached' if reached is None else f'{reached / 60:.1f}'} "
            f"| {max(accs, default=0):.4f} | {' '.join(f'{a:.3f}' for a in accs)} |"
        )
    return lines


def write_summary():
    """bench/RESULTS.md: every table under bench/results/, written from the files."""
    parts = ["# Benchmark results", "", "Written by the bench scripts; do not edit by hand.", ""]
    if TIME_TO_ACCURACY.exists():
        results = json.loads(TIME_TO_ACCURACY.read_text())
        parts += ["## Time to 0.62 public accuracy (bench/time_to_accuracy.py)", ""]
        parts += time_to_accuracy_lines(results) + [""]
    titles = {
        "throughput": "Throughput (bench/throughput.py)",
        "trainer": "Where an epoch of the suite trainer goes (bench/throughput.py --trainer)",
        "load_data": "Loading the data (bench/load_data.py)",
        "runtimes": "Inference on each runtime (bench/runtimes.py)",
        "ascent": "Gradient ascent (bench/ascent.py)",
    }
    for name, title in titles.items():
        path = RESULTS / f"{name}.md"
        if path.exists():
            parts += [f"## {title}", "", path.read_text().rstrip(), ""]
    (BENCH / "RESULTS.md").write_text("\n".join(parts))
