"""Shipping a finished run under another name: a run trained as `lean8h` elsewhere
becomes `models/best.keras` and `models/best.json`, the model file unchanged and the
record saying what it was trained as. The runs it names (its teacher, the run it started
from, its lineage) are renamed where they ship too, each checked to be the very file the
shipped name holds."""

import hashlib
import shutil
import tempfile
from pathlib import Path

from ferkit.errors import InputError
from ferkit.record import portable_path, read_record, write_record
from ferkit.runs import run_paths


def file_digest(path):
    """The SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def ship(model_path, name, models_dir="models", renames=None):
    """Copies the run at model_path to models_dir/NAME.keras and NAME.json.

    Args:
        model_path: the run's .keras file, its JSON record beside it.
        name: the name it ships under.
        models_dir: where shipped runs live.
        renames: {trained name: shipped name} of the runs it names that ship too (its
            teacher, the run it started from); each must already be in models_dir, with
            the same bytes as the file the record names.

    Returns:
        The shipped record, as written.
    """
    keras_path, json_path = run_paths(model_path)
    if not keras_path.is_file():
        raise InputError(keras_path, "no such model file")
    record = read_record(json_path)
    models_dir = Path(models_dir)
    renames = dict(renames or {})
    trained = record["name"]
    record = {
        **record,
        "name": name,
        "trained_as": {"name": trained, "record": portable_path(json_path)},
    }
    for key in ("teacher", "init"):
        if (summary := record.get(key)) and summary.get("name") in renames:
            record[key] = _renamed(summary, renames[summary["name"]], models_dir, json_path)
    if lineage := record.get("lineage"):
        runs = [renames.get(r, r) for r in lineage["runs"]]
        record["lineage"] = {**lineage, "runs": [name if r == trained else r for r in runs]}
    _copy_atomic(keras_path, models_dir / f"{name}.keras")
    write_record(models_dir / f"{name}.json", record)
    return read_record(models_dir / f"{name}.json")


def _renamed(summary, shipped, models_dir, json_path):
    """A parent run's summary, renamed to the run it ships as: its path then names the
    shipped file, which must hold the same bytes as the one it was trained from."""
    target = models_dir / f"{shipped}.keras"
    source = Path(summary["path"])
    if not target.is_file() or not source.is_file():
        raise InputError(
            json_path, f"{summary['name']} ships as {shipped}: {target} or {source} missing"
        )
    if file_digest(source) != file_digest(target):
        raise InputError(
            json_path, f"{source} and {target} differ: {shipped} is not {summary['name']}"
        )
    return {
        **summary,
        "name": shipped,
        "path": portable_path(target),
        "trained_as": summary["name"],
    }


def _copy_atomic(source, target):
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=f".{target.name}.", delete=False
    ) as f:
        tmp = Path(f.name)
    try:
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
