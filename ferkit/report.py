"""The README's results table, generated from the saved runs' JSON files.

`python -m ferkit.report` prints it; `python -m ferkit.report --update README.md`
rewrites the table between the README's results markers, and `--cards
models/README.md` writes the model cards (ferkit.cards).
"""

import argparse
from pathlib import Path

from ferkit.cards import cards, recipe_terms
from ferkit.record import read_record
from ferkit.tables import accuracy_text, markdown_table
from ferkit.train.recipes import recipe_changes

START, END = "<!-- results:start -->", "<!-- results:end -->"
COLUMNS = (
    "run",
    "model",
    "recipe",
    "parameters",
    "epochs (best)",
    "val accuracy",
    "public accuracy",
    "public with --tta",
    "public FER+ agreement",
    "public ECE, raw -> calibrated (sampling noise)",
    "patience",
    "s/epoch",
    "training time",
)


def ece_text(record):
    """Public ECE before -> after the run's temperature, or - when it has none."""
    public = (record.get("calibration") or {}).get("public")
    if not public:
        return "-"
    text = f"{public['before']['ece']:.3f} -> {public['after']['ece']:.3f}"
    if floor := public.get("ece_floor"):
        # What a perfectly calibrated model would show on these faces: the scale to read
        # the ECE against.
        text += f" ({floor['mean']:.3f})"
    return text


def changes_text(changes):
    """Settings as a table cell names them: "learning rate 0.001, epochs 45"."""
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in changes.items())


def current_changes(record):
    """What a run changed of its recipe as the recipe is now (a recipe changed since
    leaves the settings it had then); a record without its settings, what it stored."""
    if terms := recipe_terms(record):
        return recipe_changes(*terms)
    return record.get("recipe_changes") or {}


def recipe_text(record):
    """The recipe a run followed, what it changed of it, and the run it started from."""
    text = record["config"].get("recipe") or "reference"
    changes = current_changes(record)
    if changes:
        text += f" ({changes_text(changes)})"
    if record.get("labels", "fer2013") != "fer2013":
        text += f", labels {record['labels']}"
    if record.get("init"):
        text += f", from {record['init']['name']}"
    if record.get("teacher"):
        text += f", distilled from {record['teacher']['name']}"
    return text


def results_table(json_paths):
    """A Markdown table: one row per saved run."""
    rows = []
    for path in sorted(json_paths):
        r = read_record(path)
        minutes = r["training_seconds"] / 60
        cells = [
            r["name"],
            r["model"],
            recipe_text(r),
            f"{r['params']:,}",
            f"{r['epochs_run']}"
            + ("" if r["best_epoch"] is None else f" ({r['best_epoch']})")
            + ("" if r.get("finished", True) else " so far"),
            accuracy_text(r["val_accuracy"]),
            accuracy_text(r["public_accuracy"]),
            accuracy_text(r.get("tta", {}).get("public_accuracy")),
            accuracy_text((r.get("ferplus_agreement") or {}).get("public_accuracy")),
            ece_text(r),
            r["config"].get("patience") or "-",
            r["seconds_per_epoch"] or "-",
            f"{minutes:.0f} min",
        ]
        rows.append(cells)
    return "\n".join(markdown_table(COLUMNS, rows, numeric=range(3, len(COLUMNS))))


def replace_table(text, table):
    """text with the part between the results markers replaced by table."""
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models-dir", default="models")
    p.add_argument("--update", metavar="README", help="rewrite the table in this file")
    p.add_argument("--cards", metavar="PATH", help="write the model cards to this file")
    args = p.parse_args(argv)
    table = results_table(Path(args.models_dir).glob("*.json"))
    if args.cards:
        Path(args.cards).write_text(cards(Path(args.models_dir).glob("*.json"), args.models_dir))
    if args.update:
        readme = Path(args.update)
        readme.write_text(replace_table(readme.read_text(), table))
    print(table)


if __name__ == "__main__":
    main()
