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


# The scripts that keep a richer JSON of their own, from which their tables are written.
OWN_JSON = ("time_to_accuracy", "runtimes", "throughput", "detect", "video", "profile_step", "web")


def publish(name, lines):
    """Prints the lines, writes them to bench/results/NAME.md and, unless the script keeps
    its own, their tables as data to NAME.json; refreshes RESULTS.md."""
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.md").write_text(text)
    if name not in OWN_JSON:
        (RESULTS / f"{name}.json").write_text(json.dumps(as_data(lines), indent=1) + "\n")
    write_summary()


def as_data(lines):
    """A published page as data: its prose, and each Markdown table as its columns and
    rows of cells."""
    page, table = {"text": [], "tables": []}, None
    for line in lines:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if table is None:
                table = {"columns": cells, "rows": []}
                page["tables"].append(table)
            elif not all(set(c) <= set("-: ") for c in cells):
                table["rows"].append(cells)
        else:
            table = None
            if line.strip():
                page["text"].append(line)
    return page


def recipe_label(name, settings, used=None):
    """The recipe's name, and where an entry ran an earlier version of it, the settings
    that differed then; a variant ("fast (epochs 10)"), named by every setting in which
    it differs from the recipe as the recipe is now. used: the precision it ran in."""
    from ferkit.report import changes_text
    from ferkit.train.recipes import RECIPES, recipe_changes

    recipe = name.split(" (")[0]
    if recipe not in RECIPES or settings is None:
        return name
    then = recipe_changes({**settings, "recipe": recipe}, used)
    if recipe != name:
        return f"{recipe} ({changes_text(then)})"
    return f"{name}, earlier: {changes_text(then)}" if then else name


def time_to_accuracy_lines(results):
    """The Markdown table of bench/results/time_to_accuracy.json ({recipe: {CPU: entry}}):
    one row a run, and the median of each recipe on each machine."""
    lines = [
        "| recipe | CPU | cores | precision | seed | minutes to target (validation) "
        "| best validation | public then | validation accuracy by epoch |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, machines in results.items():
        for r in machines.values():
            used = next((run.get("precision") for run in r["runs"]), None)
            recipe = recipe_label(name, r.get("settings"), used)
            for run in r["runs"]:
                reached = run["seconds_to_target"]
                val = run["val_by_epoch"]
                best = max(range(len(val)), key=val.__getitem__) if val else None
                # Older runs scored public after every epoch; newer ones once, at the end,
                # on the best epoch's weights.
                public = run.get("public_at_best")
                if public is None and best is not None and run.get("public_by_epoch"):
                    public = run["public_by_epoch"][best]
                lines.append(
                    f"| {recipe} | {r['cpu']} | {r['cores']} | {run.get('precision', '-')} "
                    f"| {run['seed']} "
                    f"| {'not reached' if reached is None else f'{reached / 60:.1f}'} "
                    f"| {'-' if best is None else f'{val[best]:.4f}'} "
                    f"| {'-' if public is None else f'{public:.4f}'} "
                    f"| {' '.join(f'{a:.3f}' for a in val)} |"
                )
            median = r.get("median_seconds_to_target")
            lines.append(
                f"| {recipe}: median | {r['cpu']} | | | "
                f"| {'-' if median is None else f'{median / 60:.1f}'} "
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
        "profile_step": "Where a training step goes (bench/profile_step.py)",
        "detect": "How good the face crops are (bench/detect.py)",
        "framer": "Whether the framer reads faces (bench/framer.py)",
        "follow": "Following a camera's faces (bench/follow.py)",
        "video": "Video, end to end (bench/video.py)",
        "web": "The page in a browser (bench/web.py)",
        "calibrators": "Which calibrator (bench/calibrators.py)",
    }
    for name, title in titles.items():
        path = RESULTS / f"{name}.md"
        if path.exists():
            parts += [f"## {title}", "", path.read_text().rstrip(), ""]
    (BENCH / "RESULTS.md").write_text("\n".join(parts))
