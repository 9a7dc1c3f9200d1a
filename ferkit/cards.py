"""Model cards: one section a saved run in `models/README.md`, written from its record.

`python -m ferkit.report --cards models/README.md` regenerates the file.
"""

from ferkit import CLASS_NAMES
from ferkit.record import ancestors, lineage_cost, read_record
from ferkit.tables import accuracy_text, markdown_table
from ferkit.train.distill import teaching_views
from ferkit.train.recipes import RECIPES, reproducing_command

ARCHITECTURES = {
    "cnn": "the reference CNN of the classic homework report: three blocks of 3x3 "
    "convolution, max-pooling and dropout, then a 128-64-64 dense head; each face is "
    "standardized inside the model",
    "dnn": "the parameter-matched fully connected network: the CNN's convolution blocks "
    "replaced by three dense layers of 112 units, the same head and standardization",
    "vgg": "a small VGG-style network: four stages of two 3x3 convolutions with BatchNorm "
    "(32 to 256 channels) and a 256-unit dense layer",
    "fast": "a network built for CPU speed: one convolution at each large resolution, "
    "the width at 12 and 6 pixels and global average pooling",
    "compact": "the fast network widened to 0.45M parameters: 64 channels at 24 pixels "
    "and 128 at 12",
    "wide": "the fast network's design at more than twice the VGG's arithmetic: no "
    "BatchNorm, one convolution at 48 pixels and 96 to 384 channels where the maps are small",
    "lean": "the wide network's design at the VGG's arithmetic: no BatchNorm, one "
    "convolution at 48 pixels and 64 to 256 channels where the maps are small",
    "ensemble": "an average of the logits of several saved runs, each calibrated, one "
    "file holding them all",
}

DATA_LIMITS = (
    "FER2013 (Goodfellow et al. 2013): 35,887 48x48 grey faces found by web image search "
    "for emotion words and labelled by one annotator each. Its labels are noisy: the FER+ "
    "relabelling by ten annotators (Barsoum et al. 2016) disagrees with about a quarter of "
    "them. Disgust has 436 training faces of 28,709, so it is learnt least. The faces are "
    "mostly posed or staged expressions of adults, and the literature documents "
    "demographic imbalance (age, gender, skin tone) in it and in the web images it comes "
    "from; accuracy on under-represented groups is not measured here."
)
USES = (
    "**For**: teaching and research on expression recognition; a baseline to compare "
    "against; reading the expression of a frontal, well-lit face in a photo, where a "
    "wrong answer costs nothing. **Not for**: judging anyone's emotions, honesty, health or "
    "suitability (hiring, policing, education, medicine, insurance), surveillance, or any "
    "decision about a person. A facial expression is not an inner emotion, and the labels "
    "the model learnt are one annotator's guess."
)


def train_command(record):
    """The command that made the run, as its record keeps it, with the flags of the
    settings its recipe has changed since; where the run was calibrated after training,
    the command that did it too."""
    command = record.get("command") or "(not recorded)"
    if record.get("command") and (terms := recipe_terms(record)):
        command = reproducing_command(command, *terms)
    if record.get("calibration") and "--calibrate" not in command:
        command += f"`, then `python calibrate.py models/{record['name']}.keras"
    return command


def precision_used(record):
    """The precision a run computed in, as its record says (None where it says not)."""
    return (record.get("precision") or {}).get("used") or record["config"].get("precision")


def recipe_terms(record):
    """(settings, precision used) of a run whose recipe is still known, to compare it
    with the recipe as it is now (recipes.recipe_changes); None for a record without
    its settings."""
    config = record.get("config") or {}
    if "model" in config and (config.get("recipe") or "reference") in RECIPES:
        return config, precision_used(record)
    return None


def precision_text(record):
    """The precision a run trained in, and how it was chosen where auto chose it."""
    ran = record.get("precision") or {}
    used = precision_used(record) or "float32"
    if ran.get("asked") != "auto":
        return used
    machine = (record.get("machine") or {}).get("cpu", "its CPU")
    return f"{used} (`--precision auto` chose it on {machine})"


def card(record, models_dir="models"):
    """The Markdown card of one run."""
    return "\n".join(
        _what_it_is(record)
        + _facts(record, models_dir)
        + [""]
        + _accuracy_table(record)
        + _calibration(record)
        + _snippets(record["name"])
    )


def _what_it_is(record):
    precision = "" if record.get("members") else f", trained in {precision_text(record)}"
    return [
        f"## {record['name']}",
        "",
        f"**What it is**: {ARCHITECTURES.get(record['model'], record['model'])}; "
        f"{record['params']:,} parameters{precision}. It takes raw 0-255 grey pixels of shape "
        "(48, 48, 1) and returns the probabilities of "
        f"{', '.join(record.get('class_names', CLASS_NAMES))}.",
        "",
        f"**How it was trained**: `{train_command(record)}`",
        "",
    ]


def _facts(record, models_dir):
    """The list under the command: lineage, members, teacher, cost, machine, split."""
    name, config = record["name"], record["config"]
    lines = []
    if lineage := ancestors(record, models_dir):
        steps = " -> ".join(f"{r['name']} ({r.get('epochs_run', '?')} epochs)" for r in lineage)
        lines.append(f"- lineage: {steps} -> {name} ({record['epochs_run']} epochs)")
    if members := record.get("members"):
        described = (
            f"{m['name']} ({m['model']}, validation accuracy {accuracy_text(m['val_accuracy'])})"
            for m in members
        )
        lines.append("- members: " + ", ".join(described))
    if trained := record.get("trained_as"):
        lines.append(
            f"- trained as `{trained['name']}` (so the command names it) and shipped unchanged "
            f"as {name}; the record it was trained with: `{trained['record']}`"
        )
    if teacher := record.get("teacher"):
        lines.append(
            f"- distilled from {teacher['name']}"
            + (f" (trained as `{teacher['trained_as']}`)" if teacher.get("trained_as") else "")
            + " (validation accuracy "
            f"{accuracy_text(teacher.get('val_accuracy'))}): "
            f"{config.get('distill_weight', 0.5):g} of each training target is its probabilities"
            + teaching_views(config.get("teacher_tta"), config.get("consistent_teacher"))
        )
    # Every saved record carries its lineage's cost; older ones are walked for it.
    cost = record.get("lineage") or lineage_cost(record, models_dir)
    best = record.get("best_epoch")
    lines.append(
        f"- training time: {cost['hours']:.1f} hours (wall clock), {cost['cpu_hours']:.1f} "
        f"CPU hours for the whole lineage ({', '.join(cost['runs'])}; "
        f"{(record.get('training_seconds') or 0) / 3600:.1f} hours for this run)"
        + (f"; best epoch {best} of {record['epochs_run']}" if best is not None else "")
    )
    machine = record.get("machine")
    lines.append(
        f"- machine: {machine['cpu']}, {machine['cores']} cores"
        if machine
        else "- machine: not recorded (trained before records kept it; a 2-core CPU of this "
        "project)"
    )
    lines.append(
        f"- validation split: {record['split']['n_val']} training faces held out "
        f"(seed {record['split']['seed']}), the faces it was selected on"
    )
    if m := record.get("val_majority"):
        lines.append(
            "- validation accuracy measured as the public column is, against the FER+ "
            f"majority, on the {m['val_faces']:,} validation faces that have one: "
            f"{accuracy_text(m['val_accuracy'])}, {accuracy_text(m['val_accuracy_tta'])} with "
            "`--tta` (the validation column also counts the faces whose votes have no majority)"
        )
    return lines


def _accuracy_table(record):
    tta, per_class = record.get("tta") or {}, record.get("per_class") or {}
    rows = [
        ["accuracy", record["val_accuracy"], record["public_accuracy"]],
        ["accuracy with `--tta`", tta.get("val_accuracy"), tta.get("public_accuracy")],
    ]
    for k in record.get("class_names", CLASS_NAMES):
        rows.append([k, per_class.get("val", {}).get(k), per_class.get("public", {}).get(k)])
    rows = [[title, accuracy_text(v), accuracy_text(p)] for title, v, p in rows]
    return markdown_table(["", "validation", "public test"], rows, numeric=(1, 2))


def _calibration(record):
    calibration = record.get("calibration")
    if not calibration:
        return ["", "Probabilities are not calibrated (`python calibrate.py` would)."]
    head = ["", "ECE before", "ECE after", "ECE of exact probabilities (95%)"]
    head += ["NLL before", "NLL after"]
    lines = [
        "",
        f"Probabilities are calibrated by a temperature of {calibration['temperature']:.3f} "
        "inside the model, fitted on the validation faces (ECE over "
        f"{calibration['bins']} bins; NLL: mean negative log-likelihood). The ECE that "
        "sampling alone gives, were the calibrated probabilities exact, is the scale to "
        "read it against:",
        "",
        *markdown_table(head, _calibration_rows(calibration), numeric=range(1, 6)),
    ]
    tta = calibration.get("tta")
    if tta:
        lines += [
            "",
            "With `--tta`, the average of the views has its own temperature, "
            f"{tta['temperature']:.3f}, fitted on the validation faces' averages and applied "
            "to the average's log (labels unchanged); before is the plain average:",
            "",
            *markdown_table(head, _calibration_rows(tta), numeric=range(1, 6)),
        ]
    return lines


def _calibration_rows(calibration):
    rows = []
    for part, title in (("val", "validation"), ("public", "public test")):
        if part in calibration:
            b, a = calibration[part]["before"], calibration[part]["after"]
            floor = calibration[part].get("ece_floor")
            floor = f"{floor['mean']:.4f} ({floor['p95']:.4f})" if floor else "-"
            rows.append(
                [title, f"{b['ece']:.4f}", f"{a['ece']:.4f}", floor]
                + [f"{b['nll']:.4f}", f"{a['nll']:.4f}"]
            )
    return rows


def _snippets(name):
    stem = f"models/{name}"
    return [
        "",
        "Run it in plain Keras, in LiteRT (after `python export.py --model "
        f"{stem}.keras`) or in onnxruntime (after `... --format onnx`); `faces` is a uint8 "
        "array (n, 48, 48, 1):",
        "",
        "```python",
        "import keras",
        "",
        f'model = keras.saving.load_model("{stem}.keras")',
        "probs = model.predict(faces)",
        "```",
        "",
        "```python",
        "from ai_edge_litert.interpreter import Interpreter",
        "",
        f'run = Interpreter("{stem}.tflite").get_signature_runner()',
        'probs = run(pixels=faces.astype("float32"))["output_0"]',
        "```",
        "",
        "```python",
        "import onnxruntime",
        "",
        f'session = onnxruntime.InferenceSession("{stem}.onnx")',
        'probs = session.run(None, {"pixels": faces.astype("float32")})[0]',
        "```",
        "",
    ]


def cards(json_paths, models_dir="models"):
    """models/README.md: the common parts once, then a card a run."""
    records = [read_record(p) for p in sorted(json_paths)]
    head = [
        "# Model cards",
        "",
        "Generated from the runs' JSON records by `python -m ferkit.report --cards "
        "models/README.md`; do not edit by hand. Accuracy is the share of faces whose most "
        "probable class is their FER2013 label. Runs were selected on the validation split "
        "only; the public test faces are reported, never used to choose.",
        "",
        f"**Data and its limits** (every model): {DATA_LIMITS}",
        "",
        f"**Intended use** (every model): {USES}",
        "",
        "Models: " + ", ".join(f"[{r['name']}](#{r['name']})" for r in records),
        "",
    ]
    return "\n".join(head + [card(r, models_dir) for r in records])
