"""calibrate.py: temperature scaling of saved runs, stored inside their model files."""

import numpy as np

from ferkit.cli import add_data_arg, parser
from ferkit.data import load_data
from ferkit.errors import InputError, exit_on_input_error
from ferkit.evaluate import tta_measures
from ferkit.quiet import import_tensorflow_quietly
from ferkit.record import load_run, write_record
from ferkit.runs import run_paths, save_model_atomic


def build_parser():
    p = parser(
        "Fit a temperature on a saved run's validation faces (Guo et al. 2017) and store it "
        "in the model file, so every probability it gives is calibrated; records ECE and "
        "NLL before and after, on validation and public."
    )
    p.add_argument("models", nargs="+", metavar="MODEL", help="saved .keras runs")
    add_data_arg(p)
    return p


@exit_on_input_error
def calibrate_main(argv=None):
    args = build_parser().parse_args(argv)
    data = load_data(args.data)
    import_tensorflow_quietly()
    for path in args.models:
        record = calibrate_saved(path, data)
        c = record["calibration"]
        line = f"{record['name']}: temperature {c['temperature']:.3f}"
        for part in ("val", "public"):
            if part in c:
                before, after = c[part]["before"], c[part]["after"]
                floor = c[part]["ece_floor"]["mean"]
                line += f"; {part} ECE {before['ece']:.4f} -> {after['ece']:.4f}"
                line += f" (sampling noise alone: {floor:.4f})"
        print(line)


def calibrate_saved(path, data, tta=True):
    """Calibrates the saved run at path in place: its model and its record (whose TTA
    accuracies are measured again, since averaging calibrated views can move a label)."""
    from ferkit.calibration import calibrate_run

    model, record = load_run(path)
    data.check_trained_on(record, path)
    if record.get("labels", "fer2013") != data.labels:
        # A FER+ run is calibrated against the labels it learnt.
        data = load_data(data.source, labels=record["labels"])
    try:
        model.get_layer("logits")
    except ValueError:
        raise InputError(path, "has no `logits` layer to calibrate") from None
    calibrated, record["calibration"] = calibrate_run(model, record, data, tta=tta)
    # The fit starts from the raw logits, so calibrating again finds the same temperature
    # and the model back: then its file, and the accuracies measured with it, stay as
    # they are.
    changed = calibrated is not model
    if tta and "tta" in record and changed:
        record.update(tta_measures(calibrated, data, np.asarray(record["split"]["val_indices"])))
    keras_path, json_path = run_paths(path)
    if changed:
        save_model_atomic(calibrated, keras_path)
    write_record(json_path, record)
    return record
