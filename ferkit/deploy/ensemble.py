"""Ensembles as one model file: the members' class probabilities, averaged."""

from ferkit import IMAGE_SIZE


def build_ensemble(members, name="ensemble"):
    """One functional model whose `probs` are the mean of the members' probabilities.

    Each member keeps its own rescaling and augmentation (active only in training), so
    the ensemble takes raw pixels like any model of the suite.

    Args:
        members: Keras models mapping (n, 48, 48, 1) pixels to (n, 7) probabilities.
    """
    import keras

    if len(members) < 2:
        raise ValueError("an ensemble needs at least two models")
    pixels = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="pixels")
    # Nested models need distinct names; a rewrap renames without copying weights.
    named = [
        keras.Model(m.input, m.output, name=f"member{i}_{m.name}") for i, m in enumerate(members)
    ]
    probs = keras.layers.Average(name="probs")([m(pixels) for m in named])
    return keras.Model(pixels, probs, name=name)
