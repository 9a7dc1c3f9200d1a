"""ensemble.py: several saved runs averaged into one model file, with its JSON record."""

import time
from pathlib import Path

import numpy as np

from ferkit.cli import add_data_arg, command_line, parser
from ferkit.data import load_data
from ferkit.data.labels import with_ferplus_labels
from ferkit.errors import InputError, exit_on_input_error
from ferkit.evaluate import run_measures
from ferkit.quiet import import_tensorflow_quietly
from ferkit.record import (
    SCHEMA_VERSION,
    data_entry,
    lineage_cost,
    load_run,
    portable_path,
    versions,
    write_record,
)
from ferkit.runs import save_model_atomic
from ferkit.tables import accuracy_text


def build_parser():
    p = parser(
        "Average the class probabilities of saved runs into one model that predict.py, "
        "export.py and the results table use like any other."
    )
    p.add_argument("members", nargs="+", metavar="MODEL", help="saved .keras runs (two or more)")
    p.add_argument("--name", default="ensemble", help="writes MODELS_DIR/NAME.keras and .json")
    p.add_argument("--models-dir", default="models")
    add_data_arg(p)
    p.add_argument(
        "--ferplus",
        metavar="PATH",
        help="the FER+ file, for FER+ members (default: fer2013new.csv beside the data)",
    )
    return p


@exit_on_input_error
def ensemble_main(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    if len(args.members) < 2:
        p.error("an ensemble needs at least two models")
    data = load_data(args.data)
    import_tensorflow_quietly()
    from ferkit.deploy.ensemble import build_ensemble, fer2013_view

    paths = list(args.members)
    runs = [load_run(m) for m in paths]
    first_split = _split_key(runs[0][1])
    for path, (_, rec) in zip(paths, runs):
        data.check_trained_on(rec, path)
        if _split_key(rec) != first_split:
            raise InputError(path, "trained on another validation split than the first")
    modes = [r.get("labels", "fer2013") for _, r in runs]
    if "fer2013" in modes:
        # A FER+ member's split is the same draw less the faces FER+ left unlabelled,
        # which it never trained on either: the FER2013 members' validation faces are
        # clean for all, so they score it, as a FER2013 model.
        order = sorted(range(len(runs)), key=lambda i: modes[i] != "fer2013")
        paths, runs = [paths[i] for i in order], [runs[i] for i in order]
        members = [fer2013_view(m) for m, _ in runs]
    else:
        # FER+ members alone: an eight-class model, scored against the labels they learnt.
        for path, mode in zip(paths, modes):
            if mode != modes[0]:
                raise InputError(path, f"trained on {mode} labels, the first model on {modes[0]}")
        data = with_ferplus_labels(data, modes[0], args.ferplus)
        members = [m for m, _ in runs]
    model = build_ensemble(members, name=args.name)
    command = command_line("ensemble.py", argv)
    record = ensemble_record(model, [r for _, r in runs], paths, data, args.name, command)
    for member in record["members"] + [record]:
        print(
            f"{member['name']:>12}: val accuracy {accuracy_text(member['val_accuracy'])}, "
            f"public accuracy {accuracy_text(member['public_accuracy'])}"
        )
    out = Path(args.models_dir)
    record["lineage"] = lineage_cost(record, Path(paths[0]).parent)
    save_model_atomic(model, out / f"{args.name}.keras")
    write_record(out / f"{args.name}.json", record)
    print(f"saved {out / args.name}.keras")
    return record


def ensemble_record(model, records, paths, data, name, command=None):
    """The ensemble's JSON record, in the shape of a training run's."""
    from ferkit.models import count_params

    split = records[0]["split"]
    measures = run_measures(model, data, np.asarray(split["val_indices"], dtype=int))
    record = {
        "schema": SCHEMA_VERSION,
        "name": name,
        "model": "ensemble",
        "class_names": list(data.class_names),
        "labels": data.labels,
        "finished": True,
        "config": {"recipe": "ensemble", "members": [portable_path(p) for p in paths]},
        "command": command,
        "members": [
            {k: r.get(k) for k in ("name", "model", "val_accuracy", "public_accuracy")}
            | {"recipe": r["config"].get("recipe") or "reference"}
            for r in records
        ],
        "params": count_params(model),
        "val_accuracy": measures.pop("val_accuracy"),
        "public_accuracy": measures.pop("public_accuracy"),
        "best_epoch": None,
        "epochs_run": sum(r["epochs_run"] for r in records),
        "training_seconds": round(sum(r["training_seconds"] for r in records), 1),
        "seconds_per_epoch": None,
        "history": [],
        "split": split,
        "data": data_entry(data),
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return record | measures


def _split_key(record):
    """What draws a run's validation split: its seed, share and row limit."""
    s = record["split"]
    return (s["seed"], s["val_split"], s["limit"])
