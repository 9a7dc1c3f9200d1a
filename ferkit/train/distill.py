"""Knowledge distillation (Hinton et al. 2015): a saved run, the teacher, labels every
training face once with its probabilities, and the student trains against them blended
with the faces' own labels. The teacher's probabilities are its calibrated ones when it
was calibrated, which makes them honest soft targets."""

import numpy as np

from ferkit import CLASS_NAMES
from ferkit.errors import InputError
from ferkit.evaluate import predict_probs, tta_views
from ferkit.record import read_record
from ferkit.runs import load_model, run_paths
from ferkit.train.sources import check_held_out


def teacher_probs(model, x, batch_size=512, tta=False):
    """The teacher's probabilities, averaged over each face and its mirror image, or with
    `tta` over every test-time view of predict --tta (up to 16: one pass over the
    training faces each)."""
    if tta:
        return predict_probs(model, x, batch_size, tta=True)
    return np.mean([predict_probs(model, v, batch_size) for v in tta_views(x)], axis=0)


def teaching_views(tta, consistent):
    """How the teacher saw the faces it labelled, as progress lines and cards say it."""
    if consistent:
        return ", on every augmented view"
    return ", averaged over its test-time views" if tta else ""


def teacher_record(teacher, data, val_idx, num_classes):
    """The saved run teacher's record, once it is known fit to teach this run: trained on
    this data, with this run's validation faces held out, predicting its classes."""
    model_path, json_path = run_paths(teacher)
    if not json_path.exists():
        raise InputError(json_path, "no such file (a teacher needs its run record)")
    record = read_record(json_path)
    data.check_trained_on(record, model_path)
    check_held_out(record, val_idx, model_path)
    classes = len(record.get("class_names", CLASS_NAMES))
    if classes != num_classes:
        raise InputError(model_path, f"predicts {classes} classes, this run {num_classes}")
    return record


def distill_targets(teacher, data, val_idx, weight, num_classes, cache=None, tta=False):
    """Training targets: weight x the teacher's probabilities + (1 - weight) x the faces'
    own targets (one-hot labels, or FER+ vote distributions).

    Args:
        teacher: a saved run that teacher_record() found fit to teach this run.
        val_idx: this run's validation rows; their targets stay the true labels.
        cache: an .npy file for the teacher's probabilities, so a resumed run reuses them.
        tta: the teacher's probabilities averaged over all its test-time views.

    Returns:
        float32 (rows, classes).
    """
    if cache is not None and cache.exists():
        probs = np.load(cache)
    else:
        model = load_model(run_paths(teacher)[0])
        probs = teacher_probs(model, data.x_train, tta=tta).astype("float32")
        if cache is not None:
            np.save(cache, probs)
    if data.soft_train is not None:
        own = data.soft_train.astype("float32")
    else:
        own = np.eye(num_classes, dtype="float32")[np.maximum(data.y_train, 0)]
    targets = weight * probs + (1 - weight) * own
    targets[val_idx] = own[val_idx]
    return targets
