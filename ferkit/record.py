"""The run record, `models/NAME.json`: its one schema, writer and reader, and the
accuracy helpers that fill it. Training runs and ensembles both write it; predict,
analysis, report, the cards and the benchmarks read it.
"""

import json
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ferkit import __version__
from ferkit.errors import InputError
from ferkit.runs import write_json

# 2: records name their schema, the machine, the split's real method and the changes to
# their recipe. Records without a version are version 1 and read the same way.
SCHEMA_VERSION = 2


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


def accuracy(model, x, y, tta=False):
    """Share of faces x whose predicted class is y; None when there are none."""
    from ferkit.deploy.predict import predict_probs

    if len(x) == 0:
        return None
    return float(np.mean(predict_probs(model, x, tta=tta).argmax(axis=1) == y))


def tta_accuracies(model, data, val_idx):
    """Validation and public accuracy with test-time augmentation (`predict.py --tta`)."""
    public_x, public_y = data.public_faces
    return {
        "val_accuracy": accuracy(model, data.x_train[val_idx], data.y_train[val_idx], tta=True),
        "public_accuracy": accuracy(model, public_x, public_y, tta=True),
    }


def predictions(model, data, val_idx):
    """{"val": (predicted, true labels), "public": ...}: the model's labels for the
    validation and public faces, predicted once for every measure drawn from them;
    a part without faces is left out."""
    from ferkit.deploy.predict import predict_probs

    parts = {"val": (data.x_train[val_idx], data.y_train[val_idx]), "public": data.public_faces}
    return {k: (predict_probs(model, x).argmax(axis=1), y) for k, (x, y) in parts.items() if len(y)}


def per_class_accuracies(predicted, class_names):
    """Each class's accuracy (recall) in each part of predictions()."""
    return {
        part: {
            name: float(np.mean(pred[y == k] == k)) if np.any(y == k) else None
            for k, name in enumerate(class_names)
        }
        for part, (pred, y) in predicted.items()
    }


def ferplus_agreement(data, public_predicted, ferplus=None):
    """A FER2013 model's accuracy against the FER+ majority (ten annotators instead of
    one) on the public faces that have one, from its labels for data.public_faces: a
    second, cleaner view of its accuracy. None where the FER+ file is absent."""
    from ferkit.data.labels import with_ferplus_labels

    try:
        relabelled = with_ferplus_labels(data, "ferplus-majority", ferplus)
    except InputError:
        return None
    majority = relabelled.test_labels[data.public]
    known = majority >= 0
    if not known.any():
        return None
    agreement = float(np.mean(public_predicted[known] == majority[known]))
    return {"public_accuracy": agreement, "public_faces": int(known.sum())}


def val_majority(model, data, val_idx, val_labels=None):
    """A FER+ votes run's validation accuracy measured as its public accuracy is: against
    the FER+ majority, on the validation faces that have one (its `val_accuracy`, against
    the votes' top class, also counts the faces whose votes have no majority). None for
    other runs. val_labels: the model's single-view labels of the validation faces, when
    they were predicted already."""
    from ferkit.data.labels import with_ferplus_labels

    if data.labels != "ferplus-votes":
        return None
    majority = with_ferplus_labels(data, "ferplus-majority").y_train[val_idx]
    known = majority >= 0
    x, y = data.x_train[val_idx][known], majority[known]
    single = (
        accuracy(model, x, y)
        if val_labels is None
        else float(np.mean(np.asarray(val_labels)[known] == y))
    )
    return {
        "val_faces": int(known.sum()),
        "val_accuracy": single,
        "val_accuracy_tta": accuracy(model, x, y, tta=True),
    }


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


def build_record(
    model, data, config, history, train_idx, val_idx, finished=True, split_method="stratified"
):
    """The run's JSON record for the model as it is now (its best weights)."""

    from ferkit.machine import describe
    from ferkit.models import count_params

    accs = [h["val_accuracy"] for h in history]
    best = int(np.argmax(accs)) if accs else None
    predicted = predictions(model, data, val_idx) if finished or best is None else None
    if predicted is not None:
        val_acc, public_acc = predicted_accuracies(predicted)
    else:  # a snapshot at the best epoch: its logs measured this very model
        val_acc, public_acc = accs[best], history[best].get("public_accuracy")
    seconds = sum(h["epoch_seconds"] for h in history)
    record = {
        "schema": SCHEMA_VERSION,
        "name": config.name,
        "model": config.model,
        "class_names": list(data.class_names),
        "labels": data.labels,
        "finished": finished,
        "config": portable_config(asdict(config)),
        "recipe_changes": recipe_changes(asdict(config)),
        "params": count_params(model),
        "val_accuracy": val_acc,
        "public_accuracy": public_acc,
        "best_epoch": None if best is None else history[best]["epoch"],
        "epochs_run": len(history),
        "training_seconds": round(seconds, 1),
        "seconds_per_epoch": round(seconds / len(history), 2) if history else None,
        "history": history,
        "split": {
            "method": split_method,
            "seed": config.split_seed_used,
            "val_split": config.val_split,
            "limit": config.limit,
            "n_train": int(train_idx.size),
            "n_val": int(val_idx.size),
            "val_indices": val_idx.tolist(),
        },
        "data": {
            "source": portable_path(data.source),
            "fingerprint": data.fingerprint,
            "files": data.files,
            "n_train_rows": int(data.y_train.size),
            "n_test": int(data.test_ids.size),
            "n_public": int(data.public.sum()),
            **({"label_files": data.label_files} if data.label_files else {}),
        },
        "versions": versions(),
        "machine": describe(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if finished:
        record.update(finished_measures(model, data, val_idx, predicted))
    return record


def predicted_accuracies(predicted):
    """(validation, public) accuracy of predictions(); None for a part without faces."""
    return tuple(
        float(np.mean(np.equal(*predicted[k]))) if k in predicted else None
        for k in ("val", "public")
    )


def tta_measures(model, data, val_idx, predicted=None):
    """The record's entries that test-time augmentation measures, so that a new
    temperature can move them: `tta`, and `val_majority` for a FER+ votes run.
    predicted: predictions(model, data, val_idx), when they were made already."""
    measures = {"tta": tta_accuracies(model, data, val_idx)}
    val_labels = predicted["val"][0] if predicted and "val" in predicted else None
    if majority := val_majority(model, data, val_idx, val_labels):
        measures["val_majority"] = majority
    return measures


def finished_measures(model, data, val_idx, predicted):
    """What a finished model's record adds to its accuracies (training runs and
    ensembles alike): tta_measures(), per-class accuracy and, for a FER2013 model, its
    agreement with the FER+ majority. predicted: predictions(model, data, val_idx)."""
    measures = tta_measures(model, data, val_idx, predicted)
    measures["per_class"] = per_class_accuracies(predicted, data.class_names)
    if data.labels == "fer2013" and "public" in predicted:
        if agreement := ferplus_agreement(data, predicted["public"][0]):
            measures["ferplus_agreement"] = agreement
    return measures


def portable_path(path):
    """path relative to the working directory (the repository, for the scripts): a
    record names no absolute path of the machine it was made on."""
    import os

    return None if path is None else os.path.relpath(path)


def portable_config(config):
    """A TrainConfig dict with its paths made portable."""
    return config | {
        k: portable_path(config.get(k)) for k in ("models_dir", "init_from", "teacher")
    }


def recipe_changes(config):
    """The settings of a run (a TrainConfig as a dict) that differ from its recipe's:
    what a record names besides the recipe, so that it says what ran."""
    from ferkit.train.recipes import resolve

    recipe = config.get("recipe") or "reference"
    base = asdict(resolve(config["model"], None if recipe == "reference" else recipe))
    keys = ("model", "epochs", "batch_size", "optimizer", "learning_rate", "rho")
    keys += ("weight_decay", "schedule", "augment", "label_smoothing", "mixup")
    keys += ("class_weight", "precision")
    return {k: config[k] for k in keys if k in config and config[k] != base[k]}


def versions():
    """The library versions a record was made with."""
    import keras
    import tensorflow as tf

    return {
        "ferkit": __version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
    }
