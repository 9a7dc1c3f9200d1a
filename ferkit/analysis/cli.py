"""analyze.py: figures and numbers that explain a trained model."""

import json
import sys
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ferkit import class_names_for
from ferkit.analysis.config import AscentConfig
from ferkit.analysis.html import write_index
from ferkit.cli import add_data_arg, parser
from ferkit.data import load_data
from ferkit.errors import InputError, exit_on_input_error
from ferkit.evaluate import predict_probs
from ferkit.quiet import import_tensorflow_quietly
from ferkit.record import read_record
from ferkit.runs import load_model, run_paths, write_json

PARTS = (
    "architecture",
    "confusion",
    "calibration",
    "label_noise",
    "saliency",
    "filters",
    "class_max",
    "feature_maps",
    "compare",
)


@dataclass
class Context:
    """What every part needs: the model, its record, the data and the flags."""

    model: object
    record: dict
    data: object
    val_idx: np.ndarray
    val_pred: np.ndarray
    args: object
    run: str

    @cached_property
    def explained(self):
        """The model to take gradients and activations of, made on first use."""
        from ferkit.precision import float32_copy

        # Gradients and feature maps of a model trained in bfloat16 are too coarse to
        # picture (and SciPy, under Grad-CAM, cannot read them): explain a float32 copy,
        # while the predictions stay the saved model's own, as recorded.
        return float32_copy(self.model)

    def images(self, default):
        return np.asarray(self.args.images) if self.args.images else np.asarray(default)

    def caption(self, i):
        pred = self.model_predict(np.array([i]))[0]
        names = self.class_names
        return f"#{i} true {names[self.data.y_train[i]]}\npred {names[pred]}"

    @property
    def class_names(self):
        return class_names_for(self.model.output_shape[-1])

    def model_predict(self, rows):
        return predict_probs(self.model, self.data.x_train[rows]).argmax(axis=1)


def build_parser():
    d = AscentConfig()
    p = parser("Explain a trained model: confusion matrix, saliency, filters, class images.")
    p.add_argument("--model", default="models/cnn.keras", help="saved model (its .json beside it)")
    add_data_arg(p)
    p.add_argument("--figures-dir", default="figures")
    p.add_argument("--seed", type=int, default=0, help="seeds image choice and every random start")
    parts = p.add_argument_group("parts (any number; --all for every one)")
    parts.add_argument("--confusion", action="store_true", help="confusion matrix, val and public")
    parts.add_argument(
        "--architecture", action="store_true", help="layers, output shapes, parameters"
    )
    parts.add_argument(
        "--calibration", action="store_true", help="reliability diagram, val and public"
    )
    parts.add_argument(
        "--label-noise",
        action="store_true",
        help="the validation faces of highest loss, with their FER+ votes",
    )
    parts.add_argument("--saliency", action="store_true", help="saliency maps (see --method)")
    parts.add_argument("--filters", action="store_true", help="gradient ascent on conv filters")
    parts.add_argument("--class-max", action="store_true", help="gradient ascent on classes")
    parts.add_argument("--feature-maps", action="store_true", help="conv outputs for one face")
    parts.add_argument("--compare", action="store_true", help="CNN vs DNN from their JSON")
    parts.add_argument("--all", action="store_true", help="everything, plus figures/index.html")
    p.add_argument(
        "--images", type=int, nargs="+", metavar="ID", help="training-row numbers (0-based)"
    )
    p.add_argument("--method", choices=("saliency", "smoothgrad", "gradcam"), default="saliency")
    p.add_argument(
        "--layers", nargs="+", help="conv layers for --filters/--feature-maps (default all)"
    )
    p.add_argument("--steps", type=int, default=d.steps, help="gradient-ascent steps (filters)")
    p.add_argument("--class-steps", type=int, default=160, help="gradient-ascent steps (class-max)")
    p.add_argument("--step-size", type=float, default=d.step_size, help="pixels per ascent step")
    p.add_argument("--no-normalize", action="store_true", help="raw instead of unit-RMS gradients")
    p.add_argument("--jitter", type=int, default=d.jitter, help="random shift in pixels per step")
    p.add_argument("--tv", type=float, default=d.tv, help="total-variation share of each step")
    p.add_argument("--no-reg", action="store_true", help="no jitter and no total variation")
    p.add_argument(
        "--compare-runs",
        nargs="+",
        default=["models/cnn.json", "models/dnn.json"],
        help="run records for --compare",
    )
    return p


@exit_on_input_error
def analyze_main(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    chosen = [part for part in PARTS if args.all or getattr(args, part)]
    if not chosen:
        p.print_help()
        return None
    figures = Path(args.figures_dir)
    summary_path = figures / "summary.json"
    summary = _read_summary(summary_path)
    needs_model = [part for part in chosen if part != "compare"]
    ctx = _context(args) if needs_model else None
    import_tensorflow_quietly()
    from ferkit.analysis import parts as part_functions
    from ferkit.plotting import plt

    figures.mkdir(parents=True, exist_ok=True)
    for part in chosen:
        start = time.perf_counter()
        numbers, figs = getattr(part_functions, part)(ctx, args)
        entries = []
        for name, fig, caption in figs:
            fig.savefig(figures / name, dpi=110)
            plt.close(fig)
            entries.append({"file": name, "caption": caption})
        numbers["figures"] = entries
        numbers["seconds"] = round(time.perf_counter() - start, 2)
        key = "compare" if part == "compare" else ctx.run
        summary.setdefault(key, {})[part if part != "compare" else "table"] = numbers
        print(f"[{part}] {numbers['seconds']:.1f}s, {len(entries)} figure(s)", flush=True)
    write_json(summary_path, summary)
    if args.all:
        write_index(figures / "index.html", summary)
        print(f"wrote {figures / 'index.html'}")
    return summary


def _read_summary(path):
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        print(f"warning: {path} was unreadable; starting a new summary", file=sys.stderr)
        return {}


def _context(args):
    keras_path, json_path = run_paths(args.model)
    record = read_record(json_path)
    # A FER+ run is explained against the labels it learnt.
    data = load_data(args.data, labels=record.get("labels", "fer2013"))
    data.check_trained_on(record, keras_path)
    if args.images:
        bad = [i for i in args.images if not 0 <= i < data.y_train.size]
        if bad:
            raise InputError(
                args.data, f"--images {bad[0]} is not a training row 0-{data.y_train.size - 1}"
            )
    import_tensorflow_quietly()
    model = load_model(keras_path)

    val_idx = np.asarray(record["split"]["val_indices"])
    val_pred = predict_probs(model, data.x_train[val_idx]).argmax(axis=1)
    return Context(model, record, data, val_idx, val_pred, args, record["name"])
