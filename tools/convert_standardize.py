"""Converts saved models from ferkit's custom Standardize layer to the built-in one.

Models saved before the per-image standardization was built from Keras's own
LayerNormalization hold a `ferkit>Standardize` layer, which nothing but this package can
load. This rewrites such a model's configuration with `standardize_layer()` in its place,
copies every weight across, checks the labels on the public faces, and records the check
in the run's JSON. Usage: `python tools/convert_standardize.py models/cnn.keras ...`.
"""

import argparse
import sys

import keras
import numpy as np

from ferkit.cli import add_data_arg
from ferkit.data import load_data
from ferkit.evaluate import predict_probs
from ferkit.models import standardize_layer
from ferkit.record import load_run, write_record
from ferkit.runs import run_paths, save_model_atomic

MIN_AGREEMENT = 0.999


def convert(model):
    """The model with each Standardize layer replaced by standardize_layer(), same weights."""
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "Standardize":
            dtype = layer["config"]["dtype"]
            builtin = keras.saving.serialize_keras_object(standardize_layer(layer["name"]))
            builtin["config"]["dtype"] = dtype
            layer.update({k: builtin[k] for k in ("module", "class_name", "registered_name")})
            layer["config"] = builtin["config"]
    converted = keras.Model.from_config(config)
    converted.set_weights(model.get_weights())
    return converted


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+")
    add_data_arg(p)
    args = p.parse_args(argv)
    data = load_data(args.data)
    x, y = data.public_faces
    for path in args.models:
        model, record = load_run(path)
        converted = convert(model)
        before = predict_probs(model, x).argmax(axis=1)
        after = predict_probs(converted, x).argmax(axis=1)
        agreement = float(np.mean(before == after))
        print(
            f"{path}: identical labels on {agreement:.2%} of {len(y)} public faces; public "
            f"accuracy {np.mean(before == y):.4f} -> {np.mean(after == y):.4f}"
        )
        if agreement < MIN_AGREEMENT:
            sys.exit(f"error: {path}: agreement below {MIN_AGREEMENT:.1%}; not converted")
        keras_path, json_path = run_paths(path)
        record["converted"] = {
            "change": "custom Standardize layer replaced by the built-in LayerNormalization",
            "public_label_agreement": agreement,
            "public_accuracy_after": float(np.mean(after == y)),
        }
        save_model_atomic(converted, keras_path)
        write_record(json_path, record)


if __name__ == "__main__":
    main()
