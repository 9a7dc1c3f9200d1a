"""The run record, `models/NAME.json`: its one schema, writer and reader, the loading of
a saved run with it, and the lineage (the runs a model was built from, and their cost).
It only stores: the measures in it were computed by ferkit.evaluate. Training runs and
ensembles write it; predict, analysis, report, the cards and the benchmarks read it.
"""

import json
import os
import platform
import time
from importlib import metadata
from pathlib import Path

from ferkit import __version__
from ferkit.errors import InputError
from ferkit.machine import describe
from ferkit.runs import load_model, run_paths, write_json

# 2: records name their schema, the machine, the split's real method and the changes to
# their recipe. Records without a version are version 1 and read the same way.
# 3: the data's layout instead of its path (`data.layout`, not `data.source`); the
# command that made the run, the precision it ran in, a bfloat16 model's accuracies in
# float32.
SCHEMA_VERSION = 3


def read_record(json_path):
    """Reads a run's JSON record; a missing, corrupt or too new file is an InputError."""
    json_path = Path(json_path)
    try:
        record = json.loads(json_path.read_text())
    except FileNotFoundError:
        raise InputError(json_path, "no such file (every saved model has its JSON)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(json_path, f"not valid JSON ({err})") from None
    if not isinstance(record, dict):
        raise InputError(json_path, "not a run record")
    if record.get("schema", 1) > SCHEMA_VERSION:
        raise InputError(json_path, f"written by a newer ferkit (schema {record['schema']})")
    return record


def write_record(path, record):
    """Writes a run record atomically, stamped with the schema it follows."""
    write_json(
        path, {"schema": SCHEMA_VERSION, **{k: v for k, v in record.items() if k != "schema"}}
    )


def load_run(model_path):
    """Returns (model, record) of a saved run."""
    keras_path, json_path = run_paths(model_path)
    model = load_model(keras_path)
    return model, read_record(json_path)


def tta_temperature(model_path):
    """The TTA path's temperature of the model at model_path (its record's
    `calibration.tta`), or None where it has none. An export (`cnn.onnx`,
    `cnn.int8.tflite`) reads the record of the run it came from, beside it."""
    path = Path(model_path)
    json_path = path.with_name(path.name.split(".")[0] + ".json")
    if path.is_dir() or not json_path.exists():
        return None
    calibration = read_record(json_path).get("calibration") or {}
    return (calibration.get("tta") or {}).get("temperature")


def ancestors(record, folder):
    """The runs record was started from (--init-from), oldest first, read from their JSON
    beside it in folder; where one is missing, its summary in the child's `init` stands
    for it and the walk ends there."""
    chain, seen = [], {record.get("name")}
    init = record.get("init")
    while init and init.get("name") not in seen:
        seen.add(init["name"])
        parent = _parent(init, folder)
        chain.append(parent)
        if parent is init:
            break
        init = parent.get("init")
    return chain[::-1]


def _parent(summary, folder):
    """The record a child's summary of a parent run names, read from its JSON in folder;
    the summary itself where that JSON is missing."""
    path = Path(folder) / f"{summary['name']}.json"
    return read_record(path) if path.exists() else summary


def sources(record, folder):
    """Every run record was built from, each once: the runs it started from (--init-from),
    its teachers and its ensemble members, and theirs in turn. Each is read from its JSON
    beside it in folder; where one is missing, the child's summary of it stands for it."""
    found, seen = [], {record.get("name")}

    def visit(r):
        parents = [r.get("init"), r.get("teacher"), *(r.get("members") or ())]
        for summary in filter(None, parents):
            if summary.get("name") in seen:
                continue
            seen.add(summary["name"])
            parent = _parent(summary, folder)
            found.append(parent)
            if parent is not summary:
                visit(parent)

    visit(record)
    return found


def lineage_cost(record, folder):
    """The compute that made record's model: wall-clock hours and CPU hours (hours x the
    cores each run had; 2 where a record kept no machine) of it and every source."""
    runs = [record] + sources(record, folder)
    # An ensemble's own seconds are its members', counted through them.
    own = [r for r in runs if r.get("model") != "ensemble"]
    seconds = [r.get("training_seconds") or 0 for r in own]
    cores = [(r.get("machine") or {}).get("cores") or 2 for r in own]
    return {
        "runs": [r["name"] for r in runs],
        "hours": round(sum(seconds) / 3600, 2),
        "cpu_hours": round(sum(s * c for s, c in zip(seconds, cores)) / 3600, 2),
    }


def init_summary(init_from, r):
    """What a warm-started run's record says of the run it started from (record r)."""
    keys = ("name", "model", "val_accuracy", "public_accuracy", "epochs_run", "training_seconds")
    return {"path": portable_path(init_from), **{k: r.get(k) for k in keys}}


def run_record(config, data, history, split, measures=None, finished=True, **entries):
    """The JSON record of a training run.

    Args:
        config: its TrainConfig, as a dict.
        data: the FERData it trained on.
        history: its per-epoch logs.
        split: its `split` entry.
        measures: what ferkit.evaluate.run_measures measured of its model, once it has
            finished; a snapshot at the best epoch so far has only the validation
            accuracy its logs measured (public is scored once, at the end).
        entries: more top-level fields (params, recipe_changes, command, precision, ...).
    """
    accs = [h["val_accuracy"] for h in history]
    best = max(range(len(accs)), key=accs.__getitem__) if accs else None
    measures = dict(measures or {"val_accuracy": None if best is None else accs[best]})
    seconds = sum(h["epoch_seconds"] for h in history)
    record = {
        "schema": SCHEMA_VERSION,
        "name": config["name"],
        "model": config["model"],
        "class_names": list(data.class_names),
        "labels": data.labels,
        "finished": finished,
        "config": portable_config(config),
        **entries,
        "val_accuracy": measures.pop("val_accuracy"),
        "public_accuracy": measures.pop("public_accuracy", None),
        "best_epoch": None if best is None else history[best]["epoch"],
        "epochs_run": len(history),
        "training_seconds": round(seconds, 1),
        "seconds_per_epoch": round(seconds / len(history), 2) if history else None,
        "history": history,
        "split": split,
        "data": data_entry(data),
        "versions": versions(),
        "machine": describe(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return record | measures


def data_entry(data):
    """What a record says of the data: its layout and fingerprint, not where it lay."""
    return {
        "layout": data.layout,
        "fingerprint": data.fingerprint,
        "files": data.files,
        "n_train_rows": int(data.y_train.size),
        "n_test": int(data.test_ids.size),
        "n_public": int(data.public.sum()),
        **({"label_files": data.label_files} if data.label_files else {}),
    }


def portable_path(path):
    """path relative to the working directory (the repository, for the scripts): a
    record names no absolute path of the machine it was made on."""
    return None if path is None else os.path.relpath(path)


def portable_config(config):
    """A TrainConfig dict with its paths made portable."""
    return config | {
        k: portable_path(config.get(k)) for k in ("models_dir", "init_from", "teacher")
    }


def versions():
    """The library versions a record was made with (read without importing them)."""
    return {
        "ferkit": __version__,
        "tensorflow": metadata.version("tensorflow"),
        "keras": metadata.version("keras"),
        "python": platform.python_version(),
    }
