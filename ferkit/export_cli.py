"""export.py: TFLite or SavedModel, checked against the Keras model on the public faces."""

import shutil
import sys
from pathlib import Path

import numpy as np

from .cli import add_data_arg, import_tensorflow_quietly, load_data, parser
from .errors import InputError, exit_on_input_error

MIN_AGREEMENT = 0.995


def build_parser():
    p = parser("Export a saved model for deployment and check it agrees with the original.")
    p.add_argument("--model", default="models/cnn.keras", help="the .keras model to export")
    p.add_argument("--format", choices=("tflite", "savedmodel"), default="tflite")
    p.add_argument("--quantize", choices=("float16", "dynamic"), help="TFLite weight quantisation")
    p.add_argument("--out", help="output path (default: beside the model, by format)")
    add_data_arg(p)
    return p


@exit_on_input_error
def export_main(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    if args.quantize and args.format != "tflite":
        p.error("--quantize applies to --format tflite")
    data = load_data(args.data)
    if not data.has_public_labels:
        raise InputError(args.data, "no public test labels to check the export against")
    import_tensorflow_quietly()
    from .export import SavedModel, TFLiteModel, export_savedmodel, export_tflite
    from .predict import predict_probs
    from .runs import load_model

    model = load_model(args.model)
    source = Path(args.model)
    if args.format == "tflite":
        suffix = f".{args.quantize}.tflite" if args.quantize else ".tflite"
        out = Path(args.out or source.with_suffix(suffix))
        export_tflite(model, out, args.quantize)
        exported = TFLiteModel(out)
    else:
        out = Path(args.out or source.with_suffix(""))
        export_savedmodel(model, out)
        exported = SavedModel(out)
    x, y = data.x_test[data.public], data.test_labels[data.public]
    original = predict_probs(model, x).argmax(axis=1)
    copy = predict_probs(exported, x).argmax(axis=1)
    agreement = float(np.mean(original == copy))
    print(f"wrote {out} ({_size(out) / 1e6:.2f} MB)")
    print(f"public accuracy: keras {np.mean(original == y):.4f}, exported {np.mean(copy == y):.4f}")
    print(f"identical labels on {len(y)} public faces: {agreement:.2%}")
    if agreement < MIN_AGREEMENT:
        shutil.rmtree(out) if out.is_dir() else out.unlink()
        print(f"error: agreement below {MIN_AGREEMENT:.1%}; removed {out}", file=sys.stderr)
        sys.exit(1)


def _size(path):
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size
