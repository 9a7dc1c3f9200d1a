"""Ensembles as one model file: the members' logits, averaged."""

import keras
import numpy as np

from ferkit import IMAGE_SIZE


def fer2013_view(model):
    """A FER+ model (8 classes) as a FER2013 one (7): the softmax over its first seven
    logits, contempt left out; built from Keras's own layers (a fixed selection matrix).
    A 7-class model comes back as it is."""
    if model.output_shape[-1] == 7:
        return model
    logits = model.get_layer("logits").output
    pick = keras.layers.Dense(
        7, use_bias=False, trainable=False, name="fer2013_classes", dtype="float32"
    )
    seven = pick(logits)
    pick.set_weights([np.eye(8, 7, dtype="float32")])
    probs = keras.layers.Activation("softmax", name="probs", dtype="float32")(seven)
    return keras.Model(model.input, probs, name=f"{model.name}_as_fer2013")


def build_ensemble(members, name="ensemble"):
    """One functional model whose `logits` are the mean of the members' logits (each as
    its own temperature scaled it) and whose `probs` are their softmax: the members'
    geometric mean probability, renormalised. Averaging logits rather than probabilities
    gives the ensemble logits of its own, so calibrate.py fits it a temperature like any
    model; the two averages agree on FER2013 and FER+ to within 0.1 point.

    Each member keeps its own rescaling and augmentation (active only in training), so
    the ensemble takes raw pixels like any model of the suite.

    Args:
        members: Keras models mapping (n, 48, 48, 1) pixels through the softmax of a layer
            named `probs` to (n, classes) probabilities, all with the same classes.
    """
    if len(members) < 2:
        raise ValueError("an ensemble needs at least two models")
    pixels = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="pixels")
    # Nested models need distinct names; a rewrap renames without copying weights.
    named = [
        keras.Model(m.input, m.get_layer("probs").input, name=f"member{i}_{m.name}")
        for i, m in enumerate(members)
    ]
    logits = keras.layers.Average(name="logits", dtype="float32")([m(pixels) for m in named])
    probs = keras.layers.Activation("softmax", name="probs", dtype="float32")(logits)
    return keras.Model(pixels, probs, name=name)
