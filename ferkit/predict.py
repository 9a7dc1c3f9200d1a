"""Predicting test faces and writing Kaggle submissions."""

import numpy as np

from .runs import atomic_write_text


def predict_probs(model, x, batch_size=512):
    """Class probabilities (n, 7) for raw uint8 faces (n, 48, 48, 1)."""
    if len(x) == 0:
        return np.zeros((0, model.output_shape[-1]), np.float32)
    # Calling the model directly skips predict()'s per-call set-up, which dominates
    # for the handful of faces in a photo.
    if len(x) <= batch_size:
        return np.asarray(model(np.asarray(x, np.float32), training=False))
    return model.predict(x, batch_size=batch_size, verbose=0)


def submission_csv(ids, labels):
    """The Kaggle submission text: `id,label` rows in id order."""
    order = np.argsort(ids, kind="stable")
    rows = [f"{int(i)},{int(label)}" for i, label in zip(ids[order], labels[order])]
    return "id,label\n" + "\n".join(rows) + "\n"


def write_submission(path, ids, labels):
    atomic_write_text(path, submission_csv(ids, labels))


def known_accuracies(data, predicted):
    """Accuracy on each labelled part of the test set: public, and private if known."""
    known = data.test_labels >= 0
    parts = {"public": data.public & known, "private": ~data.public & known}
    return {
        name: (float(np.mean(predicted[mask] == data.test_labels[mask])), int(mask.sum()))
        for name, mask in parts.items()
        if mask.any()
    }
