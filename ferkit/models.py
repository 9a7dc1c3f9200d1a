"""Model builders: pure functions returning uncompiled functional Keras models.

Every model takes raw 0-255 pixels of shape (48, 48, 1) and rescales them itself, ends
in a `logits` Dense layer followed by a `probs` softmax, and names every layer so that
analysis code can address them.
"""

import keras
from keras import layers

from . import IMAGE_SIZE, NUM_CLASSES

INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)


def _inputs():
    pixels = keras.Input(shape=INPUT_SHAPE, name="pixels")
    return pixels, layers.Rescaling(1.0 / 255, name="rescale")(pixels)


def _dense_head(x, units=(128, 64, 64), dropout=(0.5, 0.4, 0.3), first=1):
    """The reference report's head: Dense-Dropout blocks, then logits and softmax."""
    for i, (n, rate) in enumerate(zip(units, dropout), start=first):
        x = layers.Dense(n, activation="relu", name=f"dense{i}")(x)
        x = layers.Dropout(rate, name=f"dense{i}_drop")(x)
    logits = layers.Dense(NUM_CLASSES, name="logits")(x)
    return layers.Activation("softmax", name="probs")(logits)


def build_cnn(
    filters=(64, 80, 64),
    padding=("same", "same", "valid"),
    conv_dropout=(0.3, 0.35, 0.4),
    head_units=(128, 64, 64),
    head_dropout=(0.5, 0.4, 0.3),
):
    """The reference CNN: three [Conv 3x3 ReLU -> MaxPool 2x2 -> Dropout] blocks and a
    128-64-64-7 dense head; 310,743 parameters with the defaults.

    The third convolution is unpadded, so the head sees 5x5 maps instead of 6x6: this
    keeps the dense layer (and the overfitting the reference report saw) smaller.
    """
    pixels, x = _inputs()
    for i, (n, pad, rate) in enumerate(zip(filters, padding, conv_dropout), start=1):
        x = layers.Conv2D(n, 3, padding=pad, activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
        x = layers.Dropout(rate, name=f"conv{i}_drop")(x)
    x = layers.Flatten(name="flatten")(x)
    return keras.Model(pixels, _dense_head(x, head_units, head_dropout), name="cnn")


def build_dnn(
    hidden=(112, 112, 112),
    hidden_dropout=(0.3, 0.35, 0.4),
    head_units=(128, 64, 64),
    head_dropout=(0.5, 0.4, 0.3),
):
    """The parameter-matched DNN: the CNN's convolution blocks replaced by fully connected
    layers of 112 units (310,807 parameters, within 0.1% of the CNN), same head and dropout.
    """
    pixels, x = _inputs()
    x = layers.Flatten(name="flatten")(x)
    for i, (n, rate) in enumerate(zip(hidden, hidden_dropout), start=1):
        x = layers.Dense(n, activation="relu", name=f"fc{i}")(x)
        x = layers.Dropout(rate, name=f"fc{i}_drop")(x)
    return keras.Model(pixels, _dense_head(x, head_units, head_dropout), name="dnn")


BUILDERS = {"cnn": build_cnn, "dnn": build_dnn}


def count_params(model):
    """Trainable parameter count."""
    return int(sum(keras.ops.size(w) for w in model.trainable_weights))
