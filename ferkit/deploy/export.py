"""Export for deployment: TFLite (float32, float16, dynamic-range, full int8), SavedModel
and ONNX. Every export computes in float32, whatever precision the model trained in.

TensorFlow is imported where an export needs it: export.py reads its flags, and checks
the data, before that one-off cost."""

import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

FORMATS = ("tflite", "savedmodel", "onnx")
QUANTIZE = ("float16", "dynamic", "int8")
# Faces that calibrate int8 activation ranges; more changed nothing measurable.
REPRESENTATIVE_FACES = 300


def tflite_bytes(model, quantize=None, representative=None):
    """The model as a TFLite flatbuffer.

    Args:
        quantize: None, "float16", "dynamic" (int8 weights) or "int8" (integer-only ops,
            uint8 pixels in, float32 probabilities out).
        representative: raw uint8 faces (n, 48, 48, 1) to calibrate int8 ranges with.
    """
    import tensorflow as tf

    from ferkit.precision import frozen_copy

    converter = tf.lite.TFLiteConverter.from_keras_model(frozen_copy(model))
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        if representative is None or not len(representative):
            raise ValueError("int8 quantisation needs representative faces")
        faces = np.asarray(representative, np.float32)
        converter.representative_dataset = lambda: ([f[None]] for f in faces)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # Raw 0-255 pixels are exactly uint8 with scale 1, so the input loses nothing.
        converter.inference_input_type = tf.uint8
    return converter.convert()


def export_tflite(model, path, quantize=None, representative=None):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = tflite_bytes(model, quantize, representative)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def _export_folder(path, write):
    """Calls write(folder) on a temp folder beside path, then moves it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        write(tmp)
        return tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def export_savedmodel(model, path):
    """A TensorFlow SavedModel with a `serve` signature taking raw pixels."""
    path = Path(path)
    model = _frozen_and_called(model)
    tmp = _export_folder(
        path, lambda d: model.export(str(d / "model"), format="tf_saved_model", verbose=False)
    )
    try:
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp / "model", path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def export_onnx(model, path):
    """An ONNX file by Keras's own exporter (tf2onnx), taking raw pixels (n, 48, 48, 1)."""
    # tf2onnx logs every graph rewrite it makes as a warning.
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    path = Path(path)
    model = _frozen_and_called(model)
    tmp = _export_folder(
        path, lambda d: model.export(str(d / path.name), format="onnx", verbose=False)
    )
    try:
        os.replace(tmp / path.name, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def _frozen_and_called(model):
    """The model's frozen float32 copy after one call: Keras's exporters need its input
    and output specs."""
    from ferkit.precision import frozen_copy

    model = frozen_copy(model)
    model(np.zeros((1, *model.input_shape[1:]), np.float32), training=False)
    return model


def exported_path(source, fmt, quantize=None):
    """The default output path beside the .keras file: NAME.tflite, NAME.int8.tflite,
    NAME.onnx or the SavedModel folder NAME."""
    source = Path(source)
    if fmt == "tflite":
        return source.with_suffix(f".{quantize}.tflite" if quantize else ".tflite")
    if fmt == "onnx":
        return source.with_suffix(".onnx")
    return source.with_suffix("")
