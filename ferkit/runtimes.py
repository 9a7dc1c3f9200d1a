"""Exported models run by their own runtimes: LiteRT for .tflite files, onnxruntime for
.onnx files, TensorFlow for SavedModel folders. Each takes raw pixels like a .keras model
and offers what predict_probs needs of one: a call on a batch, and predict."""

from pathlib import Path

import numpy as np

from ferkit.errors import InputError
from ferkit.machine import cores
from ferkit.quiet import native_output_caught

DEPLOY_REQUIREMENTS = "pip install -r requirements-deploy.txt"


def _missing(path, runtime, package):
    return InputError(
        path,
        f"running this model needs {runtime}: pip install {package} (or {DEPLOY_REQUIREMENTS})",
    )


class _Exported:
    def __init__(self, path, n_classes):
        self.name = Path(path).stem
        self.output_shape = (None, n_classes)

    def predict(self, x, batch_size=512, verbose=0):
        batches = [self(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return (
            np.concatenate(batches)
            if batches
            else np.zeros((0, *self.output_shape[1:]), np.float32)
        )


class LiteRTModel(_Exported):
    """A .tflite file on LiteRT's interpreter; quantized inputs and outputs are converted
    with the file's own scale and zero point."""

    def __init__(self, path):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise _missing(path, "LiteRT", "ai-edge-litert") from None
        with native_output_caught():
            self.interpreter = Interpreter(model_path=str(path), num_threads=cores())
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self._shape = None
        super().__init__(path, int(self.output["shape"][-1]))

    def __call__(self, x, training=False):
        x = np.asarray(x, np.float32)
        if x.shape != self._shape:
            # Allocating announces the XNNPACK delegate on stderr.
            with native_output_caught():
                self.interpreter.resize_tensor_input(self.input["index"], x.shape)
                self.interpreter.allocate_tensors()
            self._shape = x.shape
        self.interpreter.set_tensor(self.input["index"], _quantize(x, self.input))
        self.interpreter.invoke()
        return _dequantize(self.interpreter.get_tensor(self.output["index"]), self.output)


def _quantize(x, detail):
    dtype = detail["dtype"]
    if dtype == np.float32:
        return x
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def _dequantize(y, detail):
    if y.dtype == np.float32:
        return y
    scale, zero = detail["quantization"]
    return ((y.astype(np.float32) - zero) * scale).astype(np.float32)


class OnnxModel(_Exported):
    """An .onnx file on onnxruntime's CPU provider."""

    def __init__(self, path):
        try:
            import onnxruntime
        except ImportError:
            raise _missing(path, "onnxruntime", "onnxruntime") from None
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # its warnings about unused initialisers are noise
        # Its threads would spin on after each run, taking the cores from the detector
        # that runs between the model's calls (half the frames a second on two cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        super().__init__(path, int(self.session.get_outputs()[0].shape[-1]))

    def __call__(self, x, training=False):
        return self.session.run(None, {self.input_name: np.asarray(x, np.float32)})[0]


class SavedModel(_Exported):
    """An exported SavedModel folder's `serve` signature."""

    def __init__(self, path):
        import tensorflow as tf

        self.loaded = tf.saved_model.load(str(path))
        probe = self(np.zeros((1, 48, 48, 1), np.float32))
        super().__init__(path, int(probe.shape[-1]))

    def __call__(self, x, training=False):
        return self.loaded.serve(np.asarray(x, np.float32)).numpy()


def load_exported(path):
    """The runtime wrapper for an exported model, by its kind; None for a .keras file."""
    path = Path(path)
    if path.suffix == ".tflite":
        return LiteRTModel(path)
    if path.suffix == ".onnx":
        return OnnxModel(path)
    if path.is_dir():
        return SavedModel(path)
    return None
