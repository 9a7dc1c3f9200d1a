"""Predicting test faces and writing Kaggle submissions."""

import weakref

import numpy as np

from ferkit.runs import atomic_write_text


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


def predict_probs(model, x, batch_size=512, tta=False):
    """Class probabilities (n, 7) for raw uint8 faces (n, 48, 48, 1).

    Args:
        tta: average over tta_views (with the transforms the model was trained with).
    """
    if tta:
        from ferkit.augment import trained_with

        trained = {k: trained_with(model, k) for k in ("shift", "zoom", "rotate")}
        views = tta_views(np.asarray(x), trained["shift"], trained["zoom"], trained["rotate"])
        return np.mean([predict_probs(model, v, batch_size) for v in views], axis=0)
    if len(x) == 0:
        return np.zeros((0, model.output_shape[-1]), np.float32)
    # A compiled call skips predict()'s per-call set-up and eager execution's per-layer
    # dispatch, which dominate for the handful of faces of a photo or a webcam frame.
    if len(x) <= batch_size:
        return np.asarray(_compiled(model)(np.asarray(x, np.float32)))
    return model.predict(x, batch_size=batch_size, verbose=0)


def _compiled(model):
    """model's inference call as one TensorFlow graph, traced once per model (exported
    models are called as they are: their runtimes compile them)."""
    import keras

    if not isinstance(model, keras.Model):
        return lambda x: model(x, training=False)
    call = _COMPILED.get(model)
    if call is None:
        import tensorflow as tf

        spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
        # A weak reference, so that the cache keeps no model alive.
        ref = weakref.ref(model)
        call = tf.function(lambda x: ref()(x, training=False), input_signature=[spec])
        _COMPILED[model] = call
    return call


_COMPILED = weakref.WeakKeyDictionary()


def submission_csv(ids, labels):
    """The Kaggle submission text: `id,label` rows in id order."""
    order = np.argsort(ids, kind="stable")
    rows = [f"{int(i)},{int(label)}" for i, label in zip(ids[order], labels[order])]
    return "id,label\n" + "\n".join(rows) + "\n"


def probs_csv(ids, probs, class_names, names=()):
    """Class probabilities as CSV text: `id`, the file name where faces came from image
    files, then one column a class, in id order."""
    import pandas as pd

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
        name: (float(np.mean(predicted[mask] == data.test_labels[mask])), int(mask.sum()))
        for name, mask in parts.items()
        if mask.any()
    }
