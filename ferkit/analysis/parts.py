"""The parts of analyze.py: each returns (numbers for summary.json, [(file, Figure, caption)])."""

from pathlib import Path

import numpy as np

from ferkit.analysis import figures
from ferkit.analysis.ascent import (
    NOISY_DEFINITION,
    NOISY_SHARE,
    class_ascent,
    filter_ascent,
    high_frequency_share,
    noise_images,
)
from ferkit.analysis.compare import compare_rows, format_rows, with_lineage
from ferkit.analysis.config import ascent_config
from ferkit.analysis.confusion import confusion_stats, text_report
from ferkit.analysis.features import conv_layer_names
from ferkit.analysis.features import feature_maps as layer_outputs
from ferkit.analysis.saliency import METHODS, saliency_maps
from ferkit.calibration import logits_model, softmax, temperature_of
from ferkit.data.labels import FERPLUS_CLASSES, ferplus_file, process, read_ferplus
from ferkit.errors import InputError
from ferkit.evaluate import calibration_stats, predict_probs, reliability, scored_parts
from ferkit.record import read_record

# The scored parts of a dataset (ferkit.evaluate.scored_parts) as figures name them.
PART_NAMES = {"val": "validation", "public": "public"}


def _stats_json(stats):
    return {
        "accuracy": stats["accuracy"],
        "per_class_accuracy": dict(
            zip(stats["class_names"], stats["per_class_accuracy"].round(4).tolist())
        ),
        "matrix": stats["counts"].tolist(),
        "matrix_normalised": stats["normalised"].round(4).tolist(),
    }


def confusion(ctx, args):
    sets = {"validation": (ctx.data.y_train[ctx.val_idx], ctx.val_pred)}
    if "public" in (parts := scored_parts(ctx.data, ctx.val_idx)):
        faces, labels = parts["public"]
        sets["public"] = (labels, predict_probs(ctx.model, faces).argmax(axis=1))
    numbers, figs = {}, []
    for name, (y_true, y_pred) in sets.items():
        stats = confusion_stats(y_true, y_pred, ctx.class_names)
        report = text_report(y_true, y_pred, ctx.class_names)
        print(f"{ctx.run}, {name} ({len(y_true)} faces):\n{report}")
        numbers[name] = _stats_json(stats)
        fig = figures.plot_confusion(stats, f"{ctx.run}, {name}")
        caption = (
            f"Confusion matrix of {ctx.run} on the {name} set, accuracy {stats['accuracy']:.3f}."
        )
        figs.append((f"{ctx.run}_confusion_{name}.png", fig, caption))
    return numbers, figs


def calibration(ctx, args):
    """Reliability diagrams of the model's probabilities (calibrated, if it stores a
    temperature) on the validation and public faces."""
    parts = scored_parts(ctx.data, ctx.val_idx)
    sets = {PART_NAMES[k]: faces for k, faces in parts.items()}
    t = temperature_of(ctx.model)
    to_logits = logits_model(ctx.model)
    numbers, figs = {"temperature": t}, []
    for name, (x, y) in sets.items():
        z = predict_probs(to_logits, x)
        raw, scaled = softmax(z), softmax(z, t)
        curves = {"raw": reliability(raw, y)}
        stats = {"raw": calibration_stats(raw, y)}
        if t != 1.0:
            curves[f"T = {t:.2f}"] = reliability(scaled, y)
            stats[f"T = {t:.2f}"] = calibration_stats(scaled, y)
        numbers[name] = stats
        fig = figures.plot_reliability(curves, stats, f"{ctx.run}, {name}")
        caption = f"Reliability of {ctx.run} on the {name} set: " + "; ".join(
            f"{k}: ECE {v['ece']:.3f}, NLL {v['nll']:.3f}" for k, v in stats.items()
        )
        figs.append((f"{ctx.run}_calibration_{name}.png", fig, caption + "."))
    return numbers, figs


def architecture(ctx, args):
    """Every layer with weights or a shape change: name, kind, output shape, parameters."""
    rows = []
    for layer in ctx.model.layers:
        shape = getattr(layer, "output", None)
        shape = tuple(shape.shape[1:]) if shape is not None else ()
        rows.append(
            {
                "layer": layer.name,
                "kind": type(layer).__name__,
                "output": "x".join(str(d) for d in shape),
                "params": int(layer.count_params()),
            }
        )
    return {"layers": rows, "params": int(sum(r["params"] for r in rows))}, []


LABEL_NOISE_FACES = 12


def label_noise(ctx, args):
    """The validation faces the model finds least likely under their FER2013 label, with
    its prediction and, where the FER+ file is present, the ten annotators' votes; and
    the share of validation errors where the model agrees with the FER+ majority."""
    x, y = ctx.data.x_train[ctx.val_idx], ctx.data.y_train[ctx.val_idx]
    probs = predict_probs(ctx.model, x)
    loss = -np.log(np.maximum(probs[np.arange(len(y)), y], 1e-12))
    worst = np.argsort(-loss)[:LABEL_NOISE_FACES]
    numbers = {"faces": [int(ctx.val_idx[i]) for i in worst]}
    votes = None
    if ctx.data.labels == "fer2013":
        try:
            all_votes, usage = read_ferplus(ferplus_file(ctx.data))
            votes = all_votes[usage == 0][ctx.val_idx]
        except InputError:
            votes = None
    pred = probs.argmax(axis=1)
    names = ctx.class_names
    captions = []
    for i in worst:
        text = f"label {names[y[i]]}, model {names[pred[i]]} ({probs[i, pred[i]]:.2f})"
        if votes is not None:
            top = np.argsort(-votes[i][:8])[:2]
            text += "\nFER+ " + ", ".join(
                f"{FERPLUS_CLASSES[k]} {votes[i][k]}" for k in top if votes[i][k]
            )
        captions.append(text)
    if votes is not None:
        majority, _ = process(votes, "majority")
        wrong = (pred != y) & (majority >= 0)
        agree = float(np.mean(pred[wrong] == majority[wrong])) if wrong.any() else None
        numbers |= {"errors_with_majority": int(wrong.sum()), "errors_agreeing": agree}
        on_worst = float(np.mean(pred[worst] == majority[worst]))
        numbers["worst_agreeing"] = on_worst
    fig = figures.plot_faces(x[worst], captions, f"{ctx.run}: validation faces of highest loss")
    caption = f"The {len(worst)} validation faces {ctx.run} finds least likely under their label."
    if numbers.get("errors_agreeing") is not None:
        caption += (
            f" Of its {numbers['errors_with_majority']} validation errors on faces with a FER+ "
            f"majority, {numbers['errors_agreeing']:.0%} predict that majority: there the "
            "FER2013 label, not the model, is likely wrong."
        )
    return numbers, [(f"{ctx.run}_label_noise.png", fig, caption)]


def pick_examples(ctx):
    """Per class, one correct and one wrong validation face (None where there is none),
    in a seeded random order."""
    order = np.random.default_rng(ctx.args.seed).permutation(ctx.val_idx.size)
    y_val = ctx.data.y_train[ctx.val_idx]
    chosen = []
    for c in range(len(ctx.class_names)):
        for correct in (True, False):
            hits = (i for i in order if y_val[i] == c and (ctx.val_pred[i] == c) == correct)
            hit = next(hits, None)
            chosen.append(None if hit is None else int(ctx.val_idx[hit]))
    return chosen


def saliency(ctx, args):
    slots = list(args.images) if args.images else pick_examples(ctx)
    rows = np.array([i for i in slots if i is not None])
    faces = ctx.data.x_train[rows]
    predicted = ctx.model_predict(rows)
    methods = METHODS if args.all else (args.method,)
    numbers = {"images": rows.tolist(), "true": ctx.data.y_train[rows].tolist()}
    numbers["predicted"] = predicted.tolist()
    captions = [
        f"{ctx.class_names[ctx.data.y_train[i]]} -> {ctx.class_names[p]}\n#{i}"
        for i, p in zip(rows, predicted)
    ]
    figs = []
    for method in methods:
        if method == "gradcam" and not conv_layer_names(ctx.explained):
            print(f"[saliency] {ctx.run} has no convolution layer: skipping Grad-CAM")
            continue
        # Explain the predicted class: what made the model say what it said.
        maps = saliency_maps(ctx.explained, faces, predicted, method)
        numbers[method] = {"mean_map": float(maps.mean())}
        it = iter(zip(faces, maps, captions))
        placed = [(None, None, None) if s is None else next(it) for s in slots]
        fig = figures.plot_saliency(*zip(*placed), method)
        caption = (
            f"{method} of {ctx.run}'s predicted class; rows are classes, "
            "left a correctly and right a wrongly classified validation face."
        )
        figs.append((f"{ctx.run}_{method}.png", fig, caption))
    return numbers, figs


def filters(ctx, args):
    layers = args.layers or conv_layer_names(ctx.explained)
    cfg = ascent_config(args, args.steps)
    numbers, figs = {"config": cfg.__dict__, "noisy_definition": NOISY_DEFINITION}, []
    for layer in layers:
        images, final = filter_ascent(ctx.explained, layer, cfg)
        dead = int(np.sum(final <= 0))
        noisy = int(np.sum(high_frequency_share(images) > NOISY_SHARE))
        numbers[layer] = {
            "filters": int(len(final)),
            "dead": dead,
            "noisy": noisy,
            "final_activation": final.round(5).tolist(),
        }
        title = f"{ctx.run} {layer}: {len(final)} filters, {dead} dead"
        reg = "no regularisation" if args.no_reg else "jitter + total variation"
        caption = (
            f"Gradient ascent on {ctx.run}'s {layer} filters ({cfg.steps} steps, {reg}); "
            f"{dead} stay dead."
        )
        figs.append(
            (
                f"{ctx.run}_filters_{layer}.png",
                figures.plot_filter_grid(images, final, title),
                caption,
            )
        )
    return numbers, figs


def class_max(ctx, args):
    cfg = ascent_config(args, args.class_steps)
    classes = np.arange(len(ctx.class_names))
    shape = ctx.explained.input_shape[1:]
    start_row = int(ctx.images([_start_face(ctx)])[0])
    face = ctx.data.x_train[start_row].astype(np.float32)
    starts = {
        "noise": noise_images(len(classes), shape, args.seed),
        "face": np.repeat(face[None], len(classes), axis=0),
    }
    numbers, rows = {"start_image": start_row}, []
    for name, start in starts.items():
        images, probs = class_ascent(ctx.explained, start, classes, cfg)
        numbers[name] = dict(zip(ctx.class_names, probs.round(5).tolist()))
        label = "noise" if name == "noise" else ctx.caption(start_row)
        rows.append((label, start[0] if name == "face" else None, images, probs))
    lowest = min(min(numbers[n].values()) for n in starts)
    numbers["min_probability"] = lowest
    fig = figures.plot_class_max(
        rows, f"{ctx.run}: inputs maximising each class ({cfg.steps} steps)", ctx.class_names
    )
    caption = (
        f"Gradient ascent on each class of {ctx.run}, from noise and from a face; "
        f"lowest p={lowest:.3f}."
    )
    return numbers, [(f"{ctx.run}_class_max.png", fig, caption)]


def _start_face(ctx):
    """A validation face the model calls neutral correctly (else any correct one)."""
    y_val = ctx.data.y_train[ctx.val_idx]
    order = np.random.default_rng(ctx.args.seed).permutation(ctx.val_idx.size)
    correct = [i for i in order if ctx.val_pred[i] == y_val[i]] or list(order)
    neutral = [i for i in correct if y_val[i] == ctx.class_names.index("neutral")]
    return int(ctx.val_idx[(neutral or correct)[0]])


def feature_maps(ctx, args):
    layers = args.layers or conv_layer_names(ctx.explained)
    if not layers:
        print(f"[feature-maps] {ctx.run} has no convolution layer: nothing to show")
        return {"layers": {}}, []
    row = int(ctx.images([_start_face(ctx)])[0])
    outputs = layer_outputs(ctx.explained, ctx.data.x_train[row : row + 1], layers)
    numbers, figs = {"image": row, "layers": {}}, []
    for layer, maps in outputs.items():
        active = int(np.sum(maps[0].max(axis=(0, 1)) > 0))
        numbers["layers"][layer] = {"channels": int(maps.shape[-1]), "active_channels": active}
        fig = figures.plot_feature_maps(ctx.data.x_train[row], maps[0], layer, ctx.caption(row))
        caption = (
            f"{ctx.run} {layer} outputs for face #{row}: "
            f"{active} of {maps.shape[-1]} channels active."
        )
        figs.append((f"{ctx.run}_features_{layer}.png", fig, caption))
    return numbers, figs


def compare(ctx, args):

    # A run started from another is drawn after it, epochs and time accumulated.
    records = [with_lineage(read_record(path), Path(path).parent) for path in args.compare_runs]
    rows = compare_rows(records)
    print(format_rows(rows))
    names = " vs ".join(" -> ".join(r["lineage"]) for r in records)
    caption = (
        f"{names}: validation accuracy by epoch and by wall-clock time, each run drawn "
        "after the runs it started from."
    )
    return {"rows": rows}, [("compare.png", figures.plot_compare(records), caption)]
