"""Kaggle submissions and probability files from predicted test faces (the
predicting itself is ferkit.evaluate's)."""

import numpy as np
import pandas as pd

from ferkit.evaluate import accuracy
from ferkit.runs import atomic_write_text


def submission_csv(ids, labels):
    """The Kaggle submission text: `id,label` rows in id order."""
    order = np.argsort(ids, kind="stable")
    rows = [f"{int(i)},{int(label)}" for i, label in zip(ids[order], labels[order])]
    return "id,label\n" + "\n".join(rows) + "\n"


def probs_csv(ids, probs, class_names, names=()):
    """Class probabilities as CSV text: `id`, the file name where faces came from image
    files, then one column a class, in id order."""
    order = np.argsort(ids, kind="stable")
    frame = pd.DataFrame(np.asarray(probs)[order], columns=list(class_names))
    if len(names):
        frame.insert(0, "file", np.asarray(names)[order])
    frame.insert(0, "id", np.asarray(ids)[order])
    return frame.to_csv(index=False, float_format="%.6f")


def write_submission(path, ids, labels):
    atomic_write_text(path, submission_csv(ids, labels))


def known_accuracies(data, predicted):
    """Accuracy on each labelled part of the test set: public, and private if known."""
    known = data.test_labels >= 0
    parts = {data.labelled_part: data.public & known, "private": ~data.public & known}
    return {
        name: (accuracy(predicted[mask], data.test_labels[mask]), int(mask.sum()))
        for name, mask in parts.items()
        if mask.any()
    }
