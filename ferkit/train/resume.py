"""The scratch state of an unfinished run, so that it resumes where it stopped: Keras's
BackupAndRestore files, the best weights, the per-epoch log and the settings."""

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd

from ferkit.errors import InputError


class RunDir:
    """Scratch state of an unfinished run: backups, best weights, per-epoch log."""

    def __init__(self, models_dir, name):
        self.path = Path(models_dir) / f"{name}.run"
        self.backup = self.path / "backup"
        self.best = self.path / "best.weights.h5"
        self.history = self.path / "history.csv"
        self.config = self.path / "config.json"
        # Written when fit() has ended: Keras then deletes its backup, so a run that failed
        # while being scored is known by this, and finished without training again.
        self.fitted = self.path / "fitted"

    def resume_epoch(self):
        """Epochs completed by an interrupted run, or 0 when there is none.

        A run killed while BackupAndRestore wrote its epoch counter leaves that file
        corrupt; the previous epoch's copies (double_checkpoint) then take its place.
        """
        meta = self.backup / "training_metadata.json"
        for source in (meta, meta.with_name(meta.name + ".bkp")):
            try:
                epoch = int(json.loads(source.read_text())["epoch"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if source != meta:
                weights = self.backup / "latest.weights.h5"
                shutil.copyfile(weights.with_name(weights.name + ".bkp"), weights)
                shutil.copyfile(source, meta)
            return epoch
        return 0

    def read_history(self):
        if not self.history.exists() or self.history.stat().st_size == 0:
            return []
        df = pd.read_csv(self.history)
        # A run killed between logging and backing up an epoch repeats it on resume.
        df = df.drop_duplicates("epoch", keep="last").sort_values("epoch")
        df["epoch"] += 1  # Keras counts from 0; the record counts like the progress lines
        return [
            {
                k: (None if pd.isna(v) else (int(v) if k == "epoch" else float(v)))
                for k, v in r.items()
            }
            for r in df.to_dict("records")
        ]


def architecture_id(model):
    """A short hash of the model's full configuration (layers, sizes, dropout rates). Not
    of how it was compiled: the optimizer's settings are checked on their own, and its
    name counts the optimizers made before it in the process."""
    spec = json.loads(model.to_json())
    spec.pop("compile_config", None)
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def check_resumable(run, settings):
    try:
        saved = json.loads(run.config.read_text())
    except (OSError, ValueError):
        saved = None
    # Runs started before a setting was recorded are checked on the others.
    mismatched = (
        {} if saved is None else {k: v for k, v in settings.items() if k in saved and saved[k] != v}
    )
    if saved is None or mismatched:
        diff = ", ".join(f"{k} {saved.get(k)!r} -> {v!r}" for k, v in mismatched.items())
        raise InputError(
            run.path,
            f"an unfinished run with other settings ({diff or 'unreadable config'}); "
            "use another --name or delete this folder",
        )
