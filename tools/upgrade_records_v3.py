"""Upgrades run records of schema 1-2 to 3: the data's layout instead of the path it was
read from, and the command that made the run, rebuilt from the record's settings (records
of schema 3 keep the command line as it was given).

Usage: `python tools/upgrade_records_v3.py models/*.json`.
"""

import argparse
import json

from ferkit.record import SCHEMA_VERSION, write_record
from ferkit.train.recipes import recipe_changes

# argparse's flag for each TrainConfig field the recipe flags set.
FLAGS = {"learning_rate": "lr"}
OTHER = ("seed", "split_seed", "val_split", "limit", "patience", "budget_minutes")
OTHER += ("init_from", "teacher")


def rebuilt_command(record):
    """The command that trained an older run: its recipe, the flags that changed it and,
    since `--precision auto` became every recipe's default, the precision it ran in."""
    config = record["config"]
    if record["model"] == "ensemble":
        return "python ensemble.py " + " ".join(config["members"]) + f" --name {record['name']}"
    script = "train_dnn.py" if record["model"] == "dnn" else "train_cnn.py"
    recipe = config.get("recipe") or "reference"
    parts = [f"python {script}"] + ([f"--recipe {recipe}"] if recipe != "reference" else [])
    changes = record.get("recipe_changes", recipe_changes(config))
    default_model = script[6:9] if recipe == "reference" else None
    for field, value in changes.items():
        if field != "model" or value != default_model:
            parts.append(f"--{FLAGS.get(field, field).replace('_', '-')} {value}")
    if "precision" not in changes:
        parts.append(f"--precision {config.get('precision', 'float32')}")
    if config.get("labels", "fer2013") != "fer2013":
        parts.append(f"--labels {config['labels']}")
    for field in OTHER:
        default = {"seed": 0, "val_split": 0.1}.get(field)
        if config.get(field) is not None and config.get(field) != default:
            parts.append(f"--{field.replace('_', '-')} {config[field]}")
    if config.get("teacher") and config.get("distill_weight", 0.5) != 0.5:
        parts.append(f"--distill-weight {config['distill_weight']}")
    if config.get("teacher") and config.get("teacher_tta"):
        parts.append("--teacher-tta")
    if config.get("teacher") and config.get("consistent_teacher"):
        parts.append("--consistent-teacher")
    default_name = recipe if recipe != "reference" else config["model"]
    if record["name"] != default_name:
        parts.append(f"--name {record['name']}")
    # calibrate.py after training fits what the trainer's --calibrate would have.
    if record.get("calibration"):
        parts.append("--calibrate")
    return " ".join(parts)


def layout(files):
    """The layout a record's data files name."""
    if any(name.startswith("fer2013.csv") for name in files):
        return "kaggle"
    return "homework" if any(name.startswith("train.csv") for name in files) else "folders"


def upgrade(record):
    if record.get("schema", 1) >= 3:
        return record
    data = {k: v for k, v in record["data"].items() if k != "source"}
    record["data"] = {"layout": layout(data["files"]), **data}
    record.setdefault("command", rebuilt_command(record))
    return record | {"schema": SCHEMA_VERSION}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("records", nargs="+")
    for path in p.parse_args(argv).records:
        with open(path) as f:
            record = upgrade(json.load(f))
        write_record(path, record)
        print(path, record["command"])


if __name__ == "__main__":
    main()
