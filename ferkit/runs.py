"""Saved runs on disk: models/NAME.keras plus models/NAME.json, written atomically, and
the loading of every kind of model file."""

import json
import os
import tempfile
from pathlib import Path

from ferkit.errors import InputError


def atomic_write_text(path, text):
    """Writes text to path via a temp file and rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path, record):
    atomic_write_text(path, json.dumps(record, indent=1, sort_keys=False) + "\n")


def save_model_atomic(model, path):
    """Saves a Keras model to path (.keras) via a temp file and rename, without the
    optimizer's state: consumers load models uncompiled, and a run resumes from its
    backup, so the state would only triple the file (AdamW keeps two slots a weight)."""
    if getattr(model, "optimizer", None) is not None:
        bare = type(model).from_config(model.get_config())
        bare.set_weights(model.get_weights())
        model = bare
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def run_paths(model_path):
    """(model .keras path, its JSON path) for a model file or a run name in models/."""
    p = Path(model_path)
    if p.suffix != ".keras" and not p.exists():
        p = Path("models") / f"{p.name}.keras"
    return p, p.with_suffix(".json")


def load_model(model_path):
    """Loads a .keras model (uncompiled), or an exported model (.tflite, .onnx, a SavedModel
    folder) on its own runtime; a missing or corrupt file is an InputError."""
    from ferkit.runtimes import load_exported

    path = Path(model_path)
    if not path.exists():
        raise InputError(path, "no such file")
    try:
        exported = load_exported(path)
        if exported is not None:
            return exported
        import keras

        # Models saved before standardization was a built-in layer need ferkit's own.
        from ferkit import models  # noqa: F401

        return keras.saving.load_model(path, compile=False)
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - the loaders raise many types for bad files
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(path, f"not a readable model ({reason[:120]})") from None
