"""Confusion matrices and per-class accuracy, via scikit-learn."""

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix

from ferkit import CLASS_NAMES


def confusion_stats(y_true, y_pred, class_names=CLASS_NAMES):
    """Counts, row-normalised matrix, per-class and overall accuracy."""
    labels = np.arange(len(class_names))
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    support = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = np.where(support[:, None] > 0, counts / support[:, None], 0.0)
    return {
        "counts": counts,
        "normalised": normalised,
        "per_class_accuracy": np.diag(normalised),
        "support": support,
        "accuracy": float(np.mean(np.asarray(y_true) == np.asarray(y_pred))),
        "class_names": tuple(class_names),
    }


def text_report(y_true, y_pred, class_names=CLASS_NAMES):
    """scikit-learn's classification report with class names."""
    return classification_report(
        y_true,
        y_pred,
        labels=np.arange(len(class_names)),
        target_names=class_names,
        digits=3,
        zero_division=0,
    )
