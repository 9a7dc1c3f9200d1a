"""The training data as tf.data pipelines: the split, class weights, batches."""

import keras
import numpy as np
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from ferkit import NUM_CLASSES
from ferkit.data import validation_split


def class_weights(labels, mode):
    """Per-class loss weights: None, `balanced` (n / (classes * count), as scikit-learn)
    or `sqrt` (its square root, a milder correction)."""
    if mode in (None, "none"):
        return None

    classes = np.unique(labels)
    w = compute_class_weight("balanced", classes=classes, y=labels)
    if mode == "sqrt":
        w = np.sqrt(w)
    elif mode != "balanced":
        raise ValueError(f"unknown class weighting {mode!r}; use none, balanced or sqrt")
    return {int(c): float(v) for c, v in zip(classes, w)}


def split_indices(labels, config):
    """(train_idx, val_idx) into the full training set, from --limit, --val-split and
    --split-seed (--seed when not given)."""
    train_idx, val_idx, _ = split(labels, config)
    return train_idx, val_idx


def split(labels, config, usable=None):
    """(train_idx, val_idx, method): method says how the validation rows were drawn,
    "stratified" or, where too few rows allow no stratifying, "random"; with " subset"
    when --limit drew the rows first.

    Args:
        labels: the labels that stratify the split (FER2013's, whatever a run trains on).
        usable: rows that keep a label (FER+ drops some); the split is drawn over all
            rows first, so runs of one seed share validation faces, then others leave.
    """
    seed = config.split_seed_used
    idx = np.arange(labels.size)
    subset = config.limit is not None and config.limit < labels.size
    if subset:
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(labels.size, config.limit, replace=False))
    counts = np.bincount(labels[idx])
    classes = np.count_nonzero(counts)
    n_val = int(np.ceil(config.val_split * idx.size))
    # Stratifying needs two rows of every class and room for each class on both sides.
    stratify = counts[counts > 0].min() >= 2 and classes <= n_val <= idx.size - classes
    if stratify:
        tr, va = validation_split(labels[idx], config.val_split, seed)
    else:  # too few rows to stratify (tiny --limit smoke runs)
        perm = np.random.default_rng(seed).permutation(idx.size)
        n_val = max(1, n_val)
        tr, va = np.sort(perm[n_val:]), np.sort(perm[:n_val])
    method = ("stratified" if stratify else "random") + (" subset" if subset else "")
    train_idx, val_idx = idx[tr], idx[va]
    if usable is not None:
        train_idx, val_idx = train_idx[usable[train_idx]], val_idx[usable[val_idx]]
    return train_idx, val_idx, method


def make_dataset(
    x, y, batch_size, shuffle_seed=None, one_hot=False, mixup=0.0, num_classes=NUM_CLASSES
):
    """A tf.data pipeline over uint8 arrays; the model itself rescales.

    Args:
        one_hot: labels as one-hot float vectors (for label smoothing and mixup).
        mixup: alpha of Keras's MixUp applied to each batch (0: off); needs one_hot.
    """
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if one_hot:
        if y.ndim == 1:  # class indices; vote distributions are one-hot-like already
            ds = ds.map(lambda xb, yb: (xb, tf.one_hot(yb, num_classes)))
    if mixup:
        mix = keras.layers.MixUp(alpha=mixup, seed=shuffle_seed)

        def mixed(xb, yb):
            out = mix({"images": tf.cast(xb, tf.float32), "labels": yb}, training=True)
            return out["images"], out["labels"]

        ds = ds.map(mixed)
    return ds.prefetch(tf.data.AUTOTUNE)
