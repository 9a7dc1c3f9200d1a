"""Export for deployment: TensorFlow Lite (float32, float16, dynamic-range) and SavedModel."""

import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

QUANTIZE = ("float16", "dynamic")


def tflite_bytes(model, quantize=None):
    """The model as a TFLite flatbuffer; quantize: None, "float16" or "dynamic"."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def export_tflite(model, path, quantize=None):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(tflite_bytes(model, quantize))
    os.replace(tmp, path)
    return path


def export_savedmodel(model, path):
    """A TensorFlow SavedModel with a `serve` signature taking raw pixels."""
    path = Path(path)
    tmp = Path(tempfile.mkdtemp(dir=path.parent if path.parent.exists() else None))
    try:
        model.export(str(tmp / "model"), format="tf_saved_model", verbose=False)
        if path.exists():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / "model", path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


class _Exported:
    """What predict_probs needs of a model: __call__ on a batch, and predict."""

    output_shape = (None, 7)

    def predict(self, x, batch_size=512, verbose=0):
        return np.concatenate([self(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


class TFLiteModel(_Exported):
    """Runs a .tflite file with the Keras model's calling conventions used here."""

    def __init__(self, path):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            import tensorflow as tf

            Interpreter = tf.lite.Interpreter
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
            self.interpreter = Interpreter(model_path=str(path))
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.output_shape = (None, int(self.output["shape"][-1]))
        self.name = Path(path).stem

    def __call__(self, x, training=False):
        x = np.asarray(x, np.float32)
        self.interpreter.resize_tensor_input(self.input["index"], x.shape)
        self.interpreter.allocate_tensors()
        self.interpreter.set_tensor(self.input["index"], x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"])


class SavedModel(_Exported):
    """Runs an exported SavedModel's `serve` signature."""

    def __init__(self, path):
        import tensorflow as tf

        self.loaded = tf.saved_model.load(str(path))

    def __call__(self, x, training=False):
        return self.loaded.serve(np.asarray(x, np.float32)).numpy()
