"""Scoring a model, in one place: faces in, class probabilities out (with or without
test-time augmentation, on Keras or an exported runtime), the labelled parts of a
dataset a run is scored on, and every measure drawn from them: accuracy, per-class
accuracy, agreement with the FER+ majority, ECE and NLL.

Training, export's check, ensembles, calibration and the analysis call it; a record only
stores what it measured.

Keras is imported only where a Keras model is at hand: an exported model (LiteRT,
onnxruntime) predicts without TensorFlow.
"""

import weakref

import numpy as np

from ferkit.augment import trained_with
from ferkit.data.labels import with_ferplus_labels
from ferkit.errors import InputError
from ferkit.limits import max_steps

BATCH = 512
ECE_BINS = 15


def tta_views(x, shifts=False, zoom=False, rotate=False):
    """Test-time views of faces x (n, 48, 48, 1): the faces and their mirror images and,
    for each of those, the transforms the model was trained with: moved 3 pixels up,
    down, left and right (`shifts`), 10% closer (`zoom`), turned 8 degrees either way
    (`rotate`); all inside the training ranges, the border repeating its edge as there.
    """
    views = [x, x[:, :, ::-1]]
    for v in list(views):
        if shifts:
            d = 3
            padded = np.pad(v, ((0, 0), (d, d), (d, d), (0, 0)), mode="edge")
            h, w = v.shape[1:3]
            for dy, dx in ((0, d), (2 * d, d), (d, 0), (d, 2 * d)):
                views.append(padded[:, dy : dy + h, dx : dx + w])
        if zoom:
            views.append(_fixed_transform("zoom", -0.1, v))
        if rotate:
            views += [_fixed_transform("rotate", a / 360, v) for a in (8, -8)]
    return views


def _fixed_transform(kind, factor, x):
    """x moved by Keras's own augmentation layer, its random range pinned to factor."""
    from keras import layers

    if kind == "zoom":
        layer = layers.RandomZoom((factor, factor), fill_mode="nearest")
    else:
        layer = layers.RandomRotation((factor, factor), fill_mode="nearest")
    return np.asarray(layer(np.asarray(x, np.float32), training=True))


def predict_probs(model, x, batch_size=BATCH, tta=False, tta_temperature=None):
    """Class probabilities (n, classes) for raw uint8 faces (n, 48, 48, 1); a bfloat16
    Keras model computes in its float32 copy where this machine only emulates bfloat16.

    Args:
        tta: average over tta_views (with the transforms the model was trained with).
        tta_temperature: the TTA path's own calibration (its record's
            `calibration.tta.temperature`), applied to the average's log; None: none.
    """
    if tta:
        trained = {k: trained_with(model, k) for k in ("shift", "zoom", "rotate")}
        views = tta_views(np.asarray(x), trained["shift"], trained["zoom"], trained["rotate"])
        mean = np.mean([predict_probs(model, v, batch_size) for v in views], axis=0)
        return mean if tta_temperature is None else tempered(mean, tta_temperature)
    if len(x) == 0:
        return np.zeros((0, model.output_shape[-1]), np.float32)
    # A compiled call skips predict()'s per-call set-up and eager execution's per-layer
    # dispatch, which dominate for the handful of faces of a photo or a webcam frame.
    if len(x) <= batch_size:
        return np.asarray(_compiled(model)(np.asarray(x, np.float32)))
    return _runnable(model).predict(x, batch_size=batch_size, verbose=0)


def softmax(logits, temperature=1.0):
    """Probabilities of logits (n, classes) divided by temperature, as a calibrated
    model's `temperature` and `probs` layers compute them."""
    z = np.asarray(logits, np.float64) / temperature
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def tempered(probs, temperature):
    """softmax(log(probs) / temperature): probabilities made less (T > 1) or more sure,
    their order kept. The views' average of a TTA path is calibrated so, as no single
    set of logits stands behind it."""
    logs = np.log(np.maximum(np.asarray(probs, np.float64), 1e-12))
    return softmax(logs, temperature).astype(np.float32)


def _is_keras(model):
    return hasattr(model, "get_layer")


def _runnable(model):
    """What computes model's predictions: a Keras model's float32 copy where bfloat16 is
    emulated (made once), else the model; exported models as they are."""
    if not _is_keras(model):
        return model
    from ferkit.precision import inference_model

    return inference_model(model)


def _compiled(model):
    """model's inference call as one TensorFlow graph, traced once per model (exported
    models are called as they are: their runtimes compile them)."""
    if not _is_keras(model):
        return lambda x: model(x, training=False)
    call = _COMPILED.get(model)
    if call is None:
        import tensorflow as tf

        runnable = _runnable(model)
        spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
        # A weak reference, so that the cache keeps no model alive.
        ref = weakref.ref(runnable)
        call = tf.function(lambda x: ref()(x, training=False), input_signature=[spec])
        _COMPILED[model] = call
    return call


_COMPILED = weakref.WeakKeyDictionary()


def scored_parts(data, val_idx):
    """{"val": (faces, labels), "public": (faces, labels)}: the labelled faces a run is
    scored on, each part only where it has faces (public: the labelled test faces).
    FERKIT_MAX_STEPS keeps that many batches of each."""
    parts = {"val": (data.x_train[val_idx], data.y_train[val_idx]), "public": data.public_faces}
    cap = max_steps()
    if cap is not None:
        parts = {k: (x[: cap * BATCH], y[: cap * BATCH]) for k, (x, y) in parts.items()}
    return {k: (x, y) for k, (x, y) in parts.items() if len(y)}


def accuracy(predicted, labels):
    """Share of predicted labels equal to labels; None when there are none."""
    return float(np.mean(np.asarray(predicted) == np.asarray(labels))) if len(labels) else None


def labels_of(model, parts, tta=False):
    """{part: (the model's labels, the true labels)} of scored_parts()."""
    return {k: (predict_probs(model, x, tta=tta).argmax(axis=1), y) for k, (x, y) in parts.items()}


def accuracies(labelled):
    """{part: accuracy} of labels_of()."""
    return {k: accuracy(pred, y) for k, (pred, y) in labelled.items()}


def per_class_accuracies(labelled, class_names):
    """Each class's accuracy (recall) in each part of labels_of()."""
    return {
        part: {
            name: float(np.mean(pred[y == k] == k)) if np.any(y == k) else None
            for k, name in enumerate(class_names)
        }
        for part, (pred, y) in labelled.items()
    }


def bin_of(confidence, bins):
    """Each confidence's equal-width bin, 0 to bins - 1 (a bin's upper edge inside it)."""
    edges = np.linspace(0, 1, bins + 1)[1:-1]
    return np.clip(np.digitize(confidence, edges, right=True), 0, bins - 1)


def reliability(probs, labels, bins=ECE_BINS):
    """Per bin: (mean confidence, accuracy, share of faces); NaN where a bin is empty."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    which = bin_of(confidence, bins)
    rows = []
    for b in range(bins):
        mask = which == b
        rows.append(
            (confidence[mask].mean(), correct[mask].mean(), mask.mean())
            if mask.any()
            else (np.nan, np.nan, 0.0)
        )
    return np.array(rows)


def expected_calibration_error(probs, labels, bins=ECE_BINS):
    """ECE: the gap between confidence and accuracy, averaged over reliability()'s
    equal-width confidence bins, weighted by the faces in each."""
    confidence, correct, share = reliability(probs, labels, bins).T
    return float(np.nansum(share * np.abs(correct - confidence)))


def negative_log_likelihood(probs, labels):
    """Mean -log p(true class), floored at 1e-12."""
    probs = np.asarray(probs)
    return float(-np.mean(np.log(np.maximum(probs[np.arange(len(labels)), labels], 1e-12))))


def calibration_stats(probs, labels):
    return {
        "ece": expected_calibration_error(probs, labels),
        "nll": negative_log_likelihood(probs, labels),
    }


def ferplus_agreement(data, public_predicted, ferplus=None):
    """A FER2013 model's accuracy against the FER+ majority (ten annotators instead of
    one) on the public faces that have one, from its labels for data.public_faces: a
    second, cleaner view of its accuracy. None where the FER+ file is absent."""
    try:
        relabelled = with_ferplus_labels(data, "ferplus-majority", ferplus)
    except InputError:
        return None
    majority = relabelled.test_labels[data.public][: len(public_predicted)]
    known = majority >= 0
    if not known.any():
        return None
    agreement = accuracy(np.asarray(public_predicted)[known], majority[known])
    return {"public_accuracy": agreement, "public_faces": int(known.sum())}


def val_majority(model, data, val_idx, val_labels=None):
    """A FER+ votes run's validation accuracy measured as its public accuracy is: against
    the FER+ majority, on the validation faces that have one (its `val_accuracy`, against
    the votes' top class, also counts the faces whose votes have no majority). None for
    other runs. val_labels: the model's single-view labels of the validation faces, when
    they were predicted already."""
    if data.labels != "ferplus-votes":
        return None
    majority = with_ferplus_labels(data, "ferplus-majority").y_train[val_idx]
    known = majority >= 0
    x, y = data.x_train[val_idx][known], majority[known]
    single = (
        predict_probs(model, x).argmax(axis=1)
        if val_labels is None
        else np.asarray(val_labels)[known]
    )
    return {
        "val_faces": int(known.sum()),
        "val_accuracy": accuracy(single, y),
        "val_accuracy_tta": accuracy(predict_probs(model, x, tta=True).argmax(axis=1), y),
    }


def tta_measures(model, data, val_idx, labelled=None):
    """The measures that test-time augmentation gives, which a new temperature can move:
    `tta` (validation and public accuracy, `predict.py --tta`), and `val_majority` for a
    FER+ votes run. labelled: labels_of(model, scored_parts(...)), when made already."""
    tta = accuracies(labels_of(model, scored_parts(data, val_idx), tta=True))
    measures = {"tta": {f"{k}_accuracy": tta.get(k) for k in ("val", "public")}}
    val_labels = labelled["val"][0] if labelled and "val" in labelled else None
    if majority := val_majority(model, data, val_idx, val_labels):
        measures["val_majority"] = majority
    return measures


def float32_accuracies(model, data, val_idx):
    """A bfloat16 model's validation and public accuracy computed in float32 (its float32
    copy), which every CPU computes alike but for float32's last bits: bfloat16 rounds
    differently on different CPUs and flips a few labels. None for a float32 model."""
    from ferkit.precision import float32_copy, mixed_precision

    if not _is_keras(model) or not mixed_precision(model):
        return None
    copy = float32_copy(model)
    parts = scored_parts(data, val_idx)
    single = accuracies(labels_of(copy, parts))
    tta = accuracy(predict_probs(copy, parts["val"][0], tta=True).argmax(axis=1), parts["val"][1])
    return {
        "val_accuracy": single.get("val"),
        "public_accuracy": single.get("public"),
        "tta_val_accuracy": tta,
    }


def run_measures(model, data, val_idx):
    """Everything a finished run's record says of its model: validation and public
    accuracy (public once, here, never during training), with TTA, per class, against
    the FER+ majority (FER2013 models), and in float32 (bfloat16 models)."""
    labelled = labels_of(model, scored_parts(data, val_idx))
    single = accuracies(labelled)
    measures = {"val_accuracy": single.get("val"), "public_accuracy": single.get("public")}
    measures |= tta_measures(model, data, val_idx, labelled)
    measures["per_class"] = per_class_accuracies(labelled, data.class_names)
    if data.labels == "fer2013" and "public" in labelled:
        if agreement := ferplus_agreement(data, labelled["public"][0]):
            measures["ferplus_agreement"] = agreement
    if exact := float32_accuracies(model, data, val_idx):
        measures["float32"] = exact
    return measures
