"""Where the model looks: vanilla saliency, SmoothGrad and Grad-CAM via tf-keras-vis.

All three explain the class score before the softmax (the `logits`), so that the other
classes' scores do not leak into the map.
"""

import warnings

import keras
import numpy as np
from tf_keras_vis.gradcam import Gradcam
from tf_keras_vis.saliency import Saliency
from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
from tf_keras_vis.utils.scores import CategoricalScore

METHODS = ("saliency", "smoothgrad", "gradcam")


def saliency_maps(model, x, classes, method="saliency", smooth_samples=20, smooth_noise=0.2):
    """Maps of shape (n, 48, 48), each normalised to [0, 1].

    Args:
        model: a model ending in `logits` -> `probs` (softmax).
        x: raw faces (n, 48, 48, 1), 0-255.
        classes: the class to explain for each face.
        method: "saliency" (|d logit / d pixel|), "smoothgrad" (the same averaged over
            noisy copies) or "gradcam" (last conv layer's gradient-weighted activations).
        smooth_samples, smooth_noise: SmoothGrad's copies and noise (share of 0-255).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    x = np.asarray(x, np.float32)
    score = CategoricalScore([int(c) for c in classes])
    with warnings.catch_warnings():
        # tf-keras-vis passes inputs as a list; Keras 3 warns about the structure.
        warnings.simplefilter("ignore", UserWarning)
        if method == "gradcam":
            layer = last_conv_layer(model)
            if layer is None:
                raise ValueError(f"Grad-CAM needs a convolution layer; {model.name} has none")
            explainer = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)
            maps = explainer(score, x, penultimate_layer=layer)
        else:
            explainer = Saliency(model, model_modifier=ReplaceToLinear(), clone=True)
            samples = smooth_samples if method == "smoothgrad" else 0
            maps = explainer(score, x, smooth_samples=samples, smooth_noise=smooth_noise)
    return np.asarray(maps, np.float32).reshape(len(x), x.shape[1], x.shape[2])


def last_conv_layer(model):
    convs = [la.name for la in model.layers if isinstance(la, keras.layers.Conv2D)]
    return convs[-1] if convs else None
