"""Precision: which one a run computes in on this machine, building models in it, and
the float32 inference copy of a model for explaining, exporting, and predicting where
bfloat16 is emulated."""

import contextlib
import weakref
from typing import NamedTuple

import keras
import tensorflow as tf

from ferkit.machine import native_bfloat16_cpu, speed_flags

EMULATED = (
    "bfloat16 is emulated here, and trains about 10x slower than float32 "
    "(--precision auto picks float32 on this machine)"
)


def _gpus():
    return tf.config.list_physical_devices("GPU")


def native_bfloat16():
    """Whether the device that computes, the GPUs if any (compute capability 8.0 and
    later: Ampere on) or else the CPU, computes bfloat16 natively."""
    gpus = _gpus()
    if not gpus:
        return native_bfloat16_cpu()

    details = [tf.config.experimental.get_device_details(g) for g in gpus]
    return all(tuple(d.get("compute_capability") or (0, 0)) >= (8, 0) for d in details)


class Choice(NamedTuple):
    """A run's precision: what it computes in, whether the device computes bfloat16
    natively, and the line that says why."""

    used: str
    native_bfloat16: bool
    line: str


def choose_precision(asked):
    """The precision a run asked for ("auto", "float32" or "bfloat16") resolved on this
    machine."""
    native = native_bfloat16()
    device = "the GPU" if _gpus() else "this CPU"
    if asked == "auto":
        if native:
            how = f": {', '.join(speed_flags())}" if device == "this CPU" else ""
            line = f"precision: bfloat16 ({device} computes it natively{how})"
            return Choice("bfloat16", native, line)
        return Choice("float32", native, f"precision: float32 ({device} has no native bfloat16)")
    if asked == "bfloat16" and not native:
        return Choice(asked, native, f"precision: bfloat16, as asked; warning: {EMULATED}")
    return Choice(asked, native, f"precision: {asked}, as asked")


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


def inference_model(model):
    """model itself, or its float32 copy where model computes in bfloat16 and this
    machine only emulates it: the copy gives the same labels but for a few in a
    thousand (bfloat16's own rounding) at float32's speed, not bfloat16's emulated one.
    The copy is made once per model."""
    if not isinstance(model, keras.Model) or not mixed_precision(model):
        return model
    if native_bfloat16():
        return model
    copy = _INFERENCE.get(model)
    if copy is None:
        copy = _INFERENCE[model] = float32_copy(model)
    return copy


_INFERENCE = weakref.WeakKeyDictionary()


def frozen_copy(model):
    """A float32 copy for export, frozen: Keras's ONNX export traces the model's call in
    training mode, where BatchNorm would normalise with the batch's own statistics;
    frozen, it uses its moving averages, as in inference."""
    copy = float32_copy(model, always=True)
    copy.trainable = False
    return copy
