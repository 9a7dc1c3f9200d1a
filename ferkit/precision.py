"""Precision: building models in mixed precision, and the float32 inference copy of a
model for explaining and exporting it."""

import contextlib

import keras


@contextlib.contextmanager
def dtype_policy(precision):
    """Builds the models of the block in `precision` ("float32" or "bfloat16", Keras mixed
    precision), restoring the global policy afterwards whatever happens."""
    saved = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(saved)


def _all_layers(model):
    """Every layer of model, inside nested models (an ensemble's members) too."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def mixed_precision(model):
    """The lower precision some layer of model computes in ("bfloat16"), or None."""
    low = {la.compute_dtype for la in _all_layers(model)} - {"float32"}
    return min(low) if low else None


def _is_augmentation(layer):
    return layer.name.startswith("augment_")


def float32_copy(model, always=False):
    """The same model computing in float32 in every layer (the weights are float32
    already), with its training-only augmentation layers left out: they pass faces
    through unchanged at inference, but exporters cannot trace their random ops. A model
    that is float32 throughout and has no augmentation comes back as it is, unless
    `always` asks for a copy."""
    layers = list(_all_layers(model))
    if not always and all(
        la.compute_dtype == "float32" and not _is_augmentation(la) for la in layers
    ):
        return model

    def clone(layer):
        if _is_augmentation(layer):
            return keras.layers.Identity(name=layer.name)
        config = layer.get_config()
        config["dtype"] = "float32"
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone, recursive=True)
    copy.set_weights(model.get_weights())
    return copy


def frozen_copy(model):
    """A float32 copy for export, frozen: Keras's ONNX export traces the model's call in
    training mode, where BatchNorm would normalise with the batch's own statistics;
    frozen, it uses its moving averages, as in inference."""
    copy = float32_copy(model, always=True)
    copy.trainable = False
    return copy
