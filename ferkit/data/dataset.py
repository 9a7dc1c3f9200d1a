"""FERData: a dataset as arrays, whatever layout it was read from."""

import hashlib
from dataclasses import dataclass

import numpy as np

from ferkit import CLASS_NAMES
from ferkit.errors import InputError


@dataclass(frozen=True)
class FERData:
    """Faces as raw uint8 pixels of shape (n, 48, 48, 1); labels -1 where unknown."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    test_ids: np.ndarray
    test_labels: np.ndarray
    public: np.ndarray  # bool mask over test rows: the public leaderboard half
    source: str  # the path it was read from, as given
    files: dict  # file name -> sha256 of its bytes (of its decoded faces, for folders)
    test_names: tuple = ()  # the test faces' file names, for image folders
    layout: str = "homework"  # homework (train.csv, test.csv), kaggle (fer2013.csv), folders
    labelled_part: str = "public"  # what the labelled test faces are called in reports
    class_names: tuple = CLASS_NAMES
    labels: str = "fer2013"  # fer2013, ferplus-majority or ferplus-votes
    # Under FER+ labels: the FER2013 labels, which stratify the split as for any run, so
    # that a FER+ run's validation faces are among a FER2013 run's of the same seed.
    split_labels: np.ndarray | None = None
    soft_train: np.ndarray | None = None  # (n, classes) vote distributions, ferplus-votes
    label_files: dict | None = None  # the label file's name -> sha256
    label_path: str | None = None  # the FER+ file these labels were read from

    @property
    def fingerprint(self):
        """sha256 over the source files' hashes: identifies the data a run saw."""
        text = ";".join(f"{k}={v}" for k, v in sorted(self.files.items()))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def has_public_labels(self):
        return bool(np.any(self.public))

    @property
    def public_faces(self):
        """(faces, labels) of the public half of the test set, the labelled one."""
        return self.x_test[self.public], self.test_labels[self.public]

    def check_trained_on(self, record, what):
        """Raises InputError unless `what` (a saved run, with its JSON record) was
        trained on this very data."""
        if record.get("data", {}).get("fingerprint") != self.fingerprint:
            raise InputError(
                what, f"was trained on other data than {self.source} (fingerprints differ)"
            )
