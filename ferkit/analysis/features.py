"""Intermediate layer outputs."""

import keras
import numpy as np


def conv_layer_names(model):
    """Names of the model's 2-D convolution layers, in order."""
    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def feature_maps(model, x, layer_names):
    """{layer name: activations (n, h, w, channels)} for the inputs x."""
    outputs = [model.get_layer(name).output for name in layer_names]
    extractor = keras.Model(model.input, outputs)
    values = extractor(np.asarray(x, np.float32), training=False)
    if len(layer_names) == 1:
        values = [values]
    return {name: np.asarray(v) for name, v in zip(layer_names, values)}
