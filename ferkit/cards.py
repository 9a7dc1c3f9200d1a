"""Model cards: one section a saved run in `models/README.md`, written from its record.

`python -m ferkit.report --cards models/README.md` regenerates the file.
"""

from ferkit import CLASS_NAMES
from ferkit.record import ancestors, lineage_cost, read_record
from ferkit.train.distill import teaching_views

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
    """The command that trained the run: its recipe and the flags that changed it."""
    from ferkit.record import recipe_changes
    from ferkit.train.cli import _RECIPE_FLAGS

    config = record["config"]
    if record["model"] == "ensemble":
        return "python ensemble.py " + " ".join(config["members"]) + f" --name {record['name']}"
    script = "train_dnn.py" if record["model"] == "dnn" else "train_cnn.py"
    recipe = config.get("recipe") or "reference"
    parts = [f"python {script}"] + ([f"--recipe {recipe}"] if recipe != "reference" else [])
    flag_of = {field: dest for dest, field in _RECIPE_FLAGS.items()}
    changes = record.get("recipe_changes", recipe_changes(config))
    default_model = script[6:9] if recipe == "reference" else None
    for field, value in changes.items():
        if field != "model" or value != default_model:
            parts.append(f"--{flag_of[field].replace('_', '-')} {value}")
    if config.get("labels", "fer2013") != "fer2013":
        parts.append(f"--labels {config['labels']}")
    for field in (
        "seed",
        "split_seed",
        "val_split",
        "limit",
        "patience",
        "budget_minutes",
        "init_from",
        "teacher",
    ):
        default = {"seed": 0, "val_split": 0.1}.get(field)
        if config.get(field) is not None and config.get(field) != default:
            parts.append(f"--{field.replace('_', '-')} {config[field]}")
    if config.get("teacher") and config.get("distill_weight", 0.5) != 0.5:
        parts.append(f"--distill-weight {config['distill_weight']}")
    if config.get("teacher") and config.get("teacher_tta"):
        parts.append("--teacher-tta")
    if config.get("teacher") and config.get("consistent_teacher"):
        parts.append("--consistent-teacher")
    default_name = recipe if recipe != "reference" else config["model"]
    if record["name"] != default_name:
        parts.append(f"--name {record['name']}")
    # calibrate.py after training fits what the trainer's --calibrate would have.
    if record.get("calibration"):
        parts.append("--calibrate")
    return " ".join(parts)


def _accuracy(value):
    return "-" if value is None else f"{value:.4f}"


def card(record, models_dir="models"):
    """The Markdown card of one run."""
    name, config = record["name"], record["config"]
    lineage = ancestors(record, models_dir)
    # Every saved record carries its lineage's cost; older ones are walked for it.
    cost = record.get("lineage") or lineage_cost(record, models_dir)
    machine = record.get("machine")
    machine_text = (
        f"{machine['cpu']}, {machine['cores']} cores"
        if machine
        else "not recorded (trained before records kept it; a 2-core CPU of this project)"
    )
    tta = record.get("tta") or {}
    members = record.get("members")
    lines = [
        f"## {name}",
        "",
        f"**What it is**: {ARCHITECTURES.get(record['model'], record['model'])}; "
        f"{record['params']:,} parameters"
        + (f", trained in {config.get('precision', 'float32')}" if not members else "")
        + ". "
        f"It takes raw 0-255 grey pixels of shape (48, 48, 1) and returns the probabilities "
        f"of {', '.join(record.get('class_names', CLASS_NAMES))}.",
        "",
        f"**How it was trained**: `{train_command(record)}`",
        "",
    ]
    if lineage:
        steps = " -> ".join(f"{r['name']} ({r.get('epochs_run', '?')} epochs)" for r in lineage)
        lines += [f"- lineage: {steps} -> {name} ({record['epochs_run']} epochs)"]
    if members:
        lines += [
            "- members: "
            + ", ".join(
                f"{m['name']} ({m['model']}, validation accuracy {_accuracy(m['val_accuracy'])})"
                for m in members
            )
        ]
    if teacher := record.get("teacher"):
        lines += [
            f"- distilled from {teacher['name']} (validation accuracy "
            f"{_accuracy(teacher.get('val_accuracy'))}): {config.get('distill_weight', 0.5):g} "
            "of each training target is its probabilities"
            + teaching_views(config.get("teacher_tta"), config.get("consistent_teacher"))
        ]
    lines += [
        f"- training time: {cost['hours']:.1f} hours (wall clock), {cost['cpu_hours']:.1f} "
        f"CPU hours for the whole lineage ({', '.join(cost['runs'])}; "
        f"{(record.get('training_seconds') or 0) / 3600:.1f} hours for this run)"
        + (
            f"; best epoch {record.get('best_epoch')} of {record['epochs_run']}"
            if record.get("best_epoch") is not None
            else ""
        ),
        f"- machine: {machine_text}",
        f"- validation split: {record['split']['n_val']} training faces held out "
        f"(seed {record['split']['seed']}), the faces it was selected on",
        *(
            [
                f"- validation accuracy measured as the public column is, against the FER+ "
                f"majority, on the {m['val_faces']:,} validation faces that have one: "
                f"{_accuracy(m['val_accuracy'])}, {_accuracy(m['val_accuracy_tta'])} with "
                "`--tta` (the validation column also counts the faces whose votes have no majority)"
            ]
            if (m := record.get("val_majority"))
            else []
        ),
        "",
        "| | validation | public test |",
        "| --- | ---: | ---: |",
        f"| accuracy | {_accuracy(record['val_accuracy'])} "
        f"| {_accuracy(record['public_accuracy'])} |",
        f"| accuracy with `--tta` | {_accuracy(tta.get('val_accuracy'))} "
        f"| {_accuracy(tta.get('public_accuracy'))} |",
    ]
    per_class = record.get("per_class") or {}
    for k in record.get("class_names", CLASS_NAMES):
        lines.append(
            f"| {k} | {_accuracy(per_class.get('val', {}).get(k))} "
            f"| {_accuracy(per_class.get('public', {}).get(k))} |"
        )
    calibration = record.get("calibration")
    if calibration:
        lines += [
            "",
            f"Probabilities are calibrated by a temperature of {calibration['temperature']:.3f} "
            "inside the model, fitted on the validation faces (ECE over "
            f"{calibration['bins']} bins; NLL: mean negative log-likelihood). The ECE that "
            "sampling alone gives, were the calibrated probabilities exact, is the scale to "
            "read it against:",
            "",
            "| | ECE before | ECE after | ECE of exact probabilities (95%) | NLL before "
            "| NLL after |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for part, title in (("val", "validation"), ("public", "public test")):
            if part in calibration:
                b, a = calibration[part]["before"], calibration[part]["after"]
                floor = calibration[part].get("ece_floor")
                floor = f"{floor['mean']:.4f} ({floor['p95']:.4f})" if floor else "-"
                lines.append(
                    f"| {title} | {b['ece']:.4f} | {a['ece']:.4f} | {floor} | {b['nll']:.4f} "
                    f"| {a['nll']:.4f} |"
                )
    else:
        lines += ["", "Probabilities are not calibrated (`python calibrate.py` would)."]
    stem = f"models/{name}"
    lines += [
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
    return "\n".join(lines)


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
