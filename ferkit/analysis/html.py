"""figures/index.html: the report, answering the reference report's questions in its
order, each with a paragraph from the numbers and a table "reference report | this
model". Models are sections of each question, showing only the parts they have."""

import html
from pathlib import Path

from ferkit.analysis.reference import CITATION, REFERENCE
from ferkit.runs import atomic_write_text

# (anchor, title, the question, summary parts shown)
SECTIONS = [
    ("cnn", "The CNN", "What is the CNN, and how did it train?", ("architecture",)),
    ("dnn", "The DNN and the comparison", "Does a DNN with as many parameters do as well?",
     ("architecture", "table")),
    ("confusion", "Confusion matrix", "Which expressions does the model confuse?",
     ("confusion",)),
    ("saliency", "Saliency", "Which pixels decide the prediction?", ("saliency",)),
    ("filters", "Filters by gradient ascent", "What does each convolution filter look for?",
     ("filters",)),
    ("class-max", "Class outputs by gradient ascent", "What input does each class want?",
     ("class_max",)),
    ("feature-maps", "Feature maps", "What do the layers make of one face?",
     ("feature_maps",)),
    ("label-noise", "Where the labels are wrong", "Which mistakes are the labels', not the "
     "model's?", ("label_noise",)),
    ("calibration", "Calibration", "Can the probabilities be taken at their word?",
     ("calibration",)),
]  # fmt: skip

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 0 auto; padding: 1rem;
       color: #222; line-height: 1.45; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figure { margin: 1rem 0 1.5rem; } figcaption { font-size: 0.9em; color: #555; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; }
td.n { text-align: right; } .scroll { overflow-x: auto; }
nav ol { padding-left: 1.2rem; } h2 { border-top: 1px solid #ddd; padding-top: 1rem; }
"""


def _e(text):
    return html.escape(str(text))


def _table(head, rows):
    cells = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td{' class=n' if _num(c) else ''}>{_e(c)}</td>" for c in r) + "</tr>"
        for r in rows
    )
    return f"<div class='scroll'><table><tr>{cells}</tr>{body}</table></div>"


def _num(cell):
    return str(cell).replace(".", "", 1).replace("%", "").replace(",", "").isdigit()


def _figures(numbers):
    return [
        f"<figure><img src='{_e(f['file'])}' alt='{_e(f['caption'])}'>"
        f"<figcaption>{_e(f['caption'])}</figcaption></figure>"
        for f in numbers.get("figures", [])
    ]


def _pct(x):
    return "-" if x is None else f"{x:.1%}"


def _architecture(run, numbers):
    rows = [(r["layer"], r["kind"], r["output"], f"{r['params']:,}") for r in numbers["layers"]]
    rows.append(("total", "", "", f"{numbers['params']:,}"))
    return [f"<h3>{_e(run)}: layers</h3>", _table(("layer", "kind", "output", "parameters"), rows)]


def _cnn_text(summary, figures_dir):
    cnn = summary.get("cnn", {})
    conf = cnn.get("confusion", {})
    val = conf.get("validation", {}).get("accuracy")
    public = conf.get("public", {}).get("accuracy")
    ref = REFERENCE["cnn"]
    out = []
    if val is not None:
        verdict = "above" if val >= ref["val_accuracy"] else "below"
        out.append(
            f"<p>The CNN reaches {_pct(val)} on the validation faces and {_pct(public)} on "
            f"the public test faces, {verdict} the reference report's "
            f"{_pct(ref['val_accuracy'])} and {_pct(ref['public_accuracy'])}.</p>"
        )
        out.append(
            _table(
                ("", "reference report", "this model"),
                [
                    ("validation accuracy", _pct(ref["val_accuracy"]), _pct(val)),
                    ("public accuracy", _pct(ref["public_accuracy"]), _pct(public)),
                    (
                        "parameters",
                        f"{ref['params']:,}",
                        f"{cnn.get('architecture', {}).get('params', 0):,}",
                    ),
                ],
            )  # fmt: skip
        )
    for name in _lineage_histories(summary, figures_dir, "cnn"):
        out.append(
            f"<figure><img src='{_e(name)}' alt='training curve'><figcaption>Accuracy and "
            f"loss by epoch: {_e(name.removesuffix('_history.png'))}.</figcaption></figure>"
        )
    return out


def _lineage_histories(summary, figures_dir, run):
    """The history figures of run and the runs it continued, oldest first."""
    rows = summary.get("compare", {}).get("table", {}).get("rows", [])
    lineage = next((r.get("lineage") for r in rows if r["run"] == run), None) or [run]
    return [
        f"{n}_history.png" for n in lineage if (Path(figures_dir) / f"{n}_history.png").exists()
    ]


def _compare_text(numbers):
    rows = numbers["rows"]
    table = _table(
        ("run", "parameters", "best validation", "epochs", "training (min)", "public"),
        [
            (" -> ".join(r.get("lineage", [r["run"]])), f"{r['params']:,}",
             _pct(r["best_val_accuracy"]), r.get("epochs", r["best_epoch"]),
             f"{r.get('training_minutes', 0):.0f}", _pct(r["public_accuracy"]))
            for r in rows
        ],
    )  # fmt: skip
    dnn = next((r for r in rows if r["run"] == "dnn"), None)
    cnn = next((r for r in rows if r["run"] == "cnn"), None)
    text = []
    if dnn and cnn:
        text.append(
            f"<p>With {dnn['params']:,} parameters against the CNN's {cnn['params']:,}, the "
            f"DNN reaches {_pct(dnn['best_val_accuracy'])} validation accuracy against the "
            f"CNN's {_pct(cnn['best_val_accuracy'])}: the reference report found about "
            f"{_pct(REFERENCE['dnn']['val_accuracy'])}. Convolutions share their weights "
            "across the face; dense layers must learn every position anew.</p>"
        )
        text.append(
            _table(
                ("", "reference report", "this model"),
                [
                    (
                        "DNN validation accuracy",
                        f"about {_pct(REFERENCE['dnn']['val_accuracy'])}",
                        _pct(dnn["best_val_accuracy"]),
                    )
                ],
            )  # fmt: skip
        )
    return text + [table]


def _confusion_text(numbers):
    val = numbers.get("validation")
    if not val:
        return []
    per = val["per_class_accuracy"]
    names = list(per)
    matrix = val["matrix"]
    d = names.index("disgust")
    predicted_disgust = sum(row[d] for i, row in enumerate(matrix) if i != d) + matrix[d][d]
    ref = REFERENCE["confusion"]
    weakest = min(per, key=per.get)
    return [
        f"<p>Happy is recognised best ({_pct(per['happy'])}), {weakest} worst "
        f"({_pct(per[weakest])}); the model predicts disgust {predicted_disgust} times on "
        f"the validation faces, where the reference report's never did.</p>",
        _table(
            ("validation", "reference report", "this model"),
            [
                ("faces predicted disgust", ref["disgust_predicted"], predicted_disgust),
                ("fear recognised", _pct(ref["fear"]), _pct(per["fear"])),
                ("happy recognised", _pct(ref["happy"]), _pct(per["happy"])),
            ],
        ),
    ]


def _filters_text(numbers):
    layers = {k: v for k, v in numbers.items() if isinstance(v, dict) and "filters" in v}
    ref = REFERENCE["noisy_filters"]
    rows = [
        (layer, _pct(ref.get(layer)) if layer in ref else "-",
         _pct(v["noisy"] / v["filters"]) if "noisy" in v else "-", f"{v['dead']}/{v['filters']}")
        for layer, v in layers.items()
    ]  # fmt: skip
    return [
        "<p>Gradient ascent from noise on each filter's mean activation, with jitter and "
        "total-variation smoothing. A picture counts as noisy under one definition: "
        f"{_e(numbers.get('noisy_definition', ''))}.</p>",
        _table(("layer", "reference: noisy", "this model: noisy", "dead filters"), rows),
    ]


def _class_max_text(numbers):
    probs = numbers.get("noise", {})
    at_one = sum(p >= 0.99 for p in probs.values())
    return [
        f"<p>From noise, gradient ascent drives {at_one} of {len(probs)} classes to a "
        f"probability of at least 0.99; the reference report drove "
        f"{REFERENCE['class_max_at_one']} of 7 to 1.</p>",
        _table(
            ("", "reference report", "this model"),
            [
                (
                    "classes driven to p = 1 (p >= 0.99 here)",
                    f"{REFERENCE['class_max_at_one']} of 7",
                    f"{at_one} of {len(probs)}",
                )
            ],
        ),  # fmt: skip
    ]


def _label_noise_text(numbers):
    if numbers.get("errors_agreeing") is None:
        return ["<p>The FER+ file was absent: no second opinion on the labels.</p>"]
    return [
        f"<p>Of the model's {numbers['errors_with_majority']} validation errors on faces "
        f"that have a FER+ majority (ten annotators instead of one), "
        f"{_pct(numbers['errors_agreeing'])} predict that majority; of the faces it finds "
        f"least likely, {_pct(numbers['worst_agreeing'])}. No peer report looks here.</p>"
    ]


TEXT = {
    "table": _compare_text,
    "confusion": _confusion_text,
    "filters": _filters_text,
    "class_max": _class_max_text,
    "label_noise": _label_noise_text,
}


def _order(runs):
    """The CNN first, then the DNN, then any other run."""
    return sorted(runs, key=lambda r: {"cnn": 0, "dnn": 1}.get(r, 2))


def _no_figures(run, part):
    """Why a part has no figures for a run: a fully connected model has no convolution
    filters or feature maps to draw."""
    if part in ("filters", "feature_maps"):
        return [
            f"<p>{_e(run)} has no convolution layers, so it has no {_e(PARTS_SHOWN[part])}.</p>"
        ]
    return []


PARTS_SHOWN = {"filters": "filters to draw", "feature_maps": "feature maps to show"}


def write_index(path, summary):
    """A self-contained page; images are referenced relative to it."""
    figures_dir = Path(path).parent
    runs = _order([r for r in summary if r != "compare"])
    toc, body = [], []
    for anchor, title, question, parts in SECTIONS:
        content = []
        if anchor == "cnn":
            content += _cnn_text(summary, figures_dir)
        for run in runs if anchor != "dnn" else ["dnn"]:
            for part in parts:
                numbers = summary.get(run, {}).get(part)
                if not numbers:
                    continue
                if part == "architecture":
                    if anchor == "cnn" and run != "cnn":
                        continue
                    content += _architecture(run, numbers)
                    continue
                shown = TEXT[part](numbers) if run == "cnn" and part in TEXT else []
                shown += _figures(numbers) or _no_figures(run, part)
                if run != "cnn" or anchor == "dnn":
                    content.append(f"<h3>{_e(run)}</h3>")
                content += shown
        if anchor == "dnn" and "compare" in summary:
            content += TEXT["table"](summary["compare"]["table"])
            content += _figures(summary["compare"]["table"])
        if not content:
            continue
        toc.append(f"<li><a href='#{anchor}'>{_e(title)}</a></li>")
        body.append(f"<section id='{anchor}'><h2>{_e(title)}</h2>")
        body.append(f"<p><em>{_e(question)}</em></p>")
        body += content + ["</section>"]
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>What the models learned</title><style>{STYLE}</style></head><body>
<h1>What the models learned</h1>
<p>This page answers, in its order, the questions of {_e(CITATION)}, with this suite's
models beside the reference report's numbers. Generated by <code>python analyze.py
--all</code> from <code>summary.json</code>.</p>
<nav><h2>Contents</h2><ol>{"".join(toc)}</ol></nav>
{chr(10).join(body)}
</body></html>
"""
    atomic_write_text(path, page)
