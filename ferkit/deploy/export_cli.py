"""export.py: TFLite, SavedModel or ONNX, checked against the Keras model on the public faces."""

import shutil
import sys
from pathlib import Path

import numpy as np

from ferkit.cli import add_data_arg, parser
from ferkit.data import load_data
from ferkit.deploy.export import FORMATS, QUANTIZE, REPRESENTATIVE_FACES, exported_path
from ferkit.errors import InputError, exit_on_input_error
from ferkit.quiet import import_tensorflow_quietly

MIN_AGREEMENT = 0.995
# Integer arithmetic moves a few borderline faces to their second-best class.
MIN_AGREEMENT_INT8 = 0.98


def build_parser():
    p = parser("Export a saved model for deployment and check it agrees with the original.")
    p.add_argument("--model", default="models/cnn.keras", help="the .keras model to export")
    p.add_argument("--format", choices=FORMATS, default="tflite")
    p.add_argument(
        "--quantize",
        choices=QUANTIZE,
        help="TFLite quantisation: float16 or dynamic-range weights, or int8 (integer-only "
        "ops, uint8 pixels in, calibrated on training faces)",
    )
    p.add_argument("--out", help="output path (default: beside the model, by format)")
    p.add_argument("--seed", type=int, default=0, help="picks the int8 calibration faces")
    add_data_arg(p)
    return p


@exit_on_input_error
def export_main(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    if args.quantize and args.format != "tflite":
        p.error("--quantize applies to --format tflite")
    suffix = {"tflite": ".tflite", "onnx": ".onnx"}.get(args.format)
    if args.out and suffix and Path(args.out).suffix != suffix:
        p.error(f"--out for --format {args.format} ends in {suffix}")
    source = Path(args.model)
    if source.suffix != ".keras":
        raise InputError(source, "export takes a .keras model")
    data = load_data(args.data)
    if not data.has_public_labels:
        raise InputError(args.data, "no public test labels to check the export against")
    import_tensorflow_quietly()
    from ferkit.data.labels import scored_for
    from ferkit.deploy.export import export_onnx, export_savedmodel, export_tflite
    from ferkit.evaluate import predict_probs
    from ferkit.precision import float32_copy, mixed_precision, native_bfloat16
    from ferkit.quiet import native_output_caught
    from ferkit.runs import load_model

    model = load_model(source)
    data = scored_for(data, model.output_shape[-1])
    out = Path(args.out or exported_path(source, args.format, args.quantize))
    if args.format == "onnx":
        _needs("tf2onnx", out)
    # The converters print their progress from Python and C++ alike.
    with native_output_caught(fds=(1, 2)):
        if args.format == "tflite":
            rng = np.random.default_rng(args.seed)
            n = min(REPRESENTATIVE_FACES, len(data.x_train))
            pick = rng.choice(len(data.x_train), n, replace=False)
            export_tflite(model, out, args.quantize, representative=data.x_train[pick])
        elif args.format == "onnx":
            export_onnx(model, out)
        else:
            export_savedmodel(model, out)
    print(f"wrote {out} ({_size(out) / 1e6:.2f} MB)")
    try:
        exported = load_model(out)
    except InputError:
        _remove(out)
        raise
    x, y = data.public_faces
    saved = predict_probs(model, x).argmax(axis=1)
    mixed = mixed_precision(model)
    computed = predict_probs(float32_copy(model), x).argmax(axis=1) if mixed else saved
    copy = predict_probs(exported, x).argmax(axis=1)
    agreement = float(np.mean(computed == copy))
    part = data.labelled_part
    print(f"{part} accuracy: keras {np.mean(saved == y):.4f}, exported {np.mean(copy == y):.4f}")
    line = f"identical labels on {len(y)} {part} faces: {agreement:.2%}"
    if mixed and native_bfloat16():
        # The export computes in float32; the mixed precision's own rounding flips a few.
        line += (
            f" of the Keras model in float32 ({np.mean(saved == copy):.2%} of the saved "
            f"model in {mixed})"
        )
    elif mixed:
        line += f" of the Keras model in float32 ({mixed} is emulated here; it predicts so too)"
    print(line)
    needed = MIN_AGREEMENT_INT8 if args.quantize == "int8" else MIN_AGREEMENT
    if agreement < needed:
        _remove(out)
        print(f"error: agreement below {needed:.1%}; removed {out}", file=sys.stderr)
        sys.exit(1)


def _needs(module, out):
    import importlib.util

    if importlib.util.find_spec(module) is None:
        from ferkit.runtimes import DEPLOY_REQUIREMENTS

        raise InputError(out, f"this export needs {module}: {DEPLOY_REQUIREMENTS}")


def _remove(path):
    shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


def _size(path):
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size
