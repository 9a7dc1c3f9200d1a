"""How good the face crops are: each detector on composite scenes of FER2013 faces.

Every face is placed once into a 640x360 scene, at a random scale (64 to 200 pixels,
enlarged bicubically) and position, on a background of smoothed noise or of other image
content (matplotlib's non-face sample images: terrain, an MRI slice, a photo of a
package). A detection counts where its crop box (the box grown by the detector's margin,
squared, raised by its rise) overlaps the placed face by IoU 0.5 or more.

BlazeFace's model, its score threshold and each detector's crop are chosen on training
faces alone: for each model, the lowest threshold whose false detections (crop boxes
that overlap no placed face by IoU 0.3) stay under one in a hundred scenes; then the model
that finds the most faces; then the margin and rise whose crop box overlaps the placed
faces most, on average. The framer (ferkit/deploy/framing.py, trained on training faces)
frames the chosen model's boxes instead of a box rule. The faces of the classifiers'
validation split (all of them by default), which neither the framer nor the classifier
trained on and no choice here saw, give the recall and the accuracy end to end (detect,
crop, classify; a missed face counts as wrong, against the accuracy on the original
crops) that the claims are made on. Public test faces give both beside; their labels
score, they choose nothing. The classifier computes in bfloat16 where the CPU has it and
in float32 elsewhere, so its accuracies differ a little from CPU to CPU (the table
states which).
Usage: python bench/detect.py [--faces 600] [--val-faces N] [--model models/small.keras]
"""

import argparse
import json
import os
from pathlib import Path

import cv2
import matplotlib
import numpy as np
from report import RESULTS, default_data, publish

from ferkit.data import load_data, validation_split
from ferkit.deploy.detect import (
    BLAZEFACE,
    BLAZEFACE_MODELS,
    BlazeFace,
    Crop,
    blazeface_path,
    iou,
    make_detector,
)
from ferkit.deploy.framing import FramedCrop, framer_available
from ferkit.evaluate import accuracy, predict_probs
from ferkit.machine import describe
from ferkit.precision import inference_model, mixed_precision
from ferkit.quiet import import_tensorflow_quietly
from ferkit.record import load_run

W, H = 640, 360
SCALES = (64, 200)
MARGINS = np.round(np.arange(-0.1, 0.31, 0.05), 2)
RISES = np.round(np.arange(0, 0.21, 0.05), 2)
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
# False detections a scene that a threshold may let through.
FALSE_RATE = 0.01


def backgrounds():
    """Grey 640x360 backgrounds: smoothed noise, and non-face sample images."""
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.integers(0, 256, (H, W)).astype(np.float32), (0, 0), 3)
    found = [cv2.normalize(noise, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)]
    sample = Path(matplotlib.get_data_path()) / "sample_data"
    for name in ("jacksboro_fault_dem.npz", "topobathy.npz"):
        arrays = np.load(sample / name)
        field = arrays[arrays.files[0]].astype(np.float32)
        found.append(cv2.normalize(field, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8))
    package = cv2.imread(str(sample / "Minduka_Present_Blue_Pack.png"), cv2.IMREAD_GRAYSCALE)
    found.append(package)
    return [cv2.resize(b, (W, H), interpolation=cv2.INTER_AREA) for b in found]


def scenes(faces, seed):
    """(scene, true box (x, y, side, side)) for each 48x48 face."""
    rng = np.random.default_rng(seed)
    grounds = backgrounds()
    for i, face in enumerate(faces):
        side = int(rng.integers(SCALES[0], SCALES[1] + 1))
        x, y = int(rng.integers(0, W - side)), int(rng.integers(0, H - side))
        scene = grounds[i % len(grounds)].copy()
        scene[y : y + side, x : x + side] = cv2.resize(
            face, (side, side), interpolation=cv2.INTER_CUBIC
        )
        yield scene, (x, y, side, side)


def alone(detector, faces, crop, side=96):
    """Recall of each face alone, `side` pixels wide at the centre of a grey square of
    twice that: no scene around them."""
    hits = []
    for face in faces:
        canvas = np.full((2 * side, 2 * side), 110, np.uint8)
        o = side // 2
        canvas[o : o + side, o : o + side] = cv2.resize(
            face, (side, side), interpolation=cv2.INTER_CUBIC
        )
        hits.append(best_overlap(canvas, detector(canvas), (o, o, side, side), crop)[0] >= 0.5)
    return float(np.mean(hits))


def crop_boxes(scene, found, crop):
    """(n, 4) squares a crop (detect.Crop, framing.FramedCrop) takes of the faces found
    in a scene, as x0, y0, x1, y1."""
    squares = np.array(crop.squares(scene, [f.box for f in found]), float).reshape(-1, 3)
    cx, cy, half = squares[:, 0], squares[:, 1], squares[:, 2] / 2
    return np.stack([cx - half, cy - half, cx + half, cy + half], axis=1)


def detections(detector, faces, seed):
    """[(scene, truth, [faces])] of every face placed into a scene."""
    return [(scene, truth, detector(scene)) for scene, truth in scenes(faces, seed)]


def overlaps(scene, found, truth, crop):
    """Each detection's crop box's IoU with the placed face, truth (x, y, side, side)."""
    if not found:
        return []
    x, y, s, _ = truth
    return [
        float(v) for v in iou(np.array([x, y, x + s, y + s], float), crop_boxes(scene, found, crop))
    ]


def best_overlap(scene, found, truth, crop):
    """(IoU, box) of the detection whose crop box overlaps the placed face most."""
    if not found:
        return 0.0, None
    each = overlaps(scene, found, truth, crop)
    k = int(np.argmax(each))
    return each[k], found[k].box


def above(detected, threshold):
    """detections() with only the faces scored above threshold."""
    return [(s, t, [f for f in found if f.score > threshold]) for s, t, found in detected]


# The crop the score thresholds are chosen with.
THRESHOLD_CROP = Crop(0.1)


def rates(detected, crop=THRESHOLD_CROP):
    """(recall at IoU 0.5, false detections a scene) of detections()."""
    hits, false = [], []
    for scene, truth, found in detected:
        each = overlaps(scene, found, truth, crop)
        hits.append(max(each, default=0) >= 0.5)
        false.append(sum(o < 0.3 for o in each))
    return float(np.mean(hits)), float(np.mean(false))


def choose_thresholds(train):
    """({model: threshold}, {model: {threshold: (recall, false a scene)}}, {model: its
    detections() of the training scenes above its threshold}): each BlazeFace model's
    lowest threshold under FALSE_RATE false detections. The scenes are searched once, at
    the lowest threshold: suppression keeps a face only for a better one, so the faces
    above a threshold are those a search at it would find."""
    table, chosen, detected = {}, {}, {}
    for name, model in BLAZEFACE_MODELS.items():
        detector = BlazeFace(blazeface_path(model), model, min(THRESHOLDS))
        lowest = detections(detector, train, seed=1)
        table[name] = {t: rates(above(lowest, t)) for t in THRESHOLDS}
        chosen[name] = next(t for t in THRESHOLDS if table[name][t][1] < FALSE_RATE)
        detected[name] = above(lowest, chosen[name])
    return chosen, table, detected


def framing(detected, crop):
    """(share of the faces found at IoU 0.3 but missed at 0.5, the 5th and 95th
    percentiles of the crop's side over the placed face's) of detections(): the misses
    that the crop's framing, not the search, makes. At IoU 0.5 a centred crop's side must
    lie within 1/sqrt(2) to sqrt(2) of the face's."""
    ious, ratios = [], []
    for scene, truth, found in detected:
        o, box = best_overlap(scene, found, truth, crop)
        ious.append(o)
        if box is not None and o >= 0.3:
            ratios.append(crop.squares(scene, [box])[0][2] / truth[2])
    ious = np.array(ious)
    share = float(np.mean((ious >= 0.3) & (ious < 0.5)))
    return share, [float(v) for v in np.percentile(ratios, [5, 95])]


def choose_crop(detected):
    """The crop (margin, rise) whose crop boxes overlap the placed faces most, on
    average, and each one's mean overlap."""
    means = {
        Crop(float(m), float(r)): np.mean(
            [best_overlap(s, f, t, Crop(m, r))[0] for s, t, f in detected]
        )
        for m in MARGINS
        for r in RISES
    }
    return max(means, key=means.get), means


def box_iou(box, truth):
    """IoU of a detector's box (x, y, w, h) with a placed face (x, y, side, side)."""
    x, y, w, h = box
    tx, ty, side, _ = truth
    corners = np.array([[x, y, x + w, y + h]], float)
    return float(iou(np.array([tx, ty, tx + side, ty + side], float), corners)[0])


def end_to_end(model, scored, crop, labels):
    """Recall (IoU 0.5 and 0.3), the crop's mean IoU and the accuracy end to end (a
    missed face counts as wrong) of detections() of faces with these labels."""
    matched = [best_overlap(scene, found, truth, crop) for scene, truth, found in scored]
    hit = np.array([o >= 0.5 for o, _ in matched])
    located = np.array([o >= 0.3 for o, _ in matched])
    crops = np.zeros((len(scored), 48, 48, 1), np.uint8)
    for k, ((scene, _, _), (_, box)) in enumerate(zip(scored, matched)):
        if box is not None:
            crops[k, :, :, 0] = crop.crops(scene, [box])[0]
    right = predict_probs(model, crops).argmax(1) == labels
    # Framed off where the detector's own box overlaps the face by under IoU 0.3: the box
    # lies inside a frame FER2013 drew loosely around a small face.
    loose = [
        o < 0.5 and box_iou(box, truth) < 0.3
        for (o, box), (_, truth, _) in zip(matched, scored)
        if o >= 0.3
    ]
    return {
        "framed_off": float(np.mean(located & ~hit)),
        "framed_off_loose": float(np.sum(loose) / len(scored)),
        "recall_iou_0.5": float(hit.mean()),
        "recall_iou_0.3": float(located.mean()),
        "mean_crop_iou": float(np.mean([o for o, _ in matched])),
        "end_to_end_accuracy": float(np.mean(hit & right)),
        "end_to_end_accuracy_iou_0.3": float(np.mean(located & right)),
    }


def computes_in(model):
    """The dtype the classifier's predictions are computed in on this machine: a
    bfloat16 model computes in its float32 copy where bfloat16 is emulated."""
    return mixed_precision(inference_model(model)) or "float32"


def wilson(share, n, z=1.96):
    """The 95% Wilson interval (low, high) of a share measured on n faces."""
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def recall_intervals(rows, n_val, n_public):
    """Each BlazeFace back row's recall on validation and public scenes, with its
    interval (wilson), as text."""
    parts = []
    for name, r in rows.items():
        if not name.startswith("blazeface back"):
            continue
        (low_val, high_val), (low, high) = (
            wilson(r["recall_val"], n_val),
            wilson(r["recall_iou_0.5"], n_public),
        )
        parts.append(
            f"{name} {r['recall_val']:.3f} [{low_val:.3f}, {high_val:.3f}], "
            f"{r['recall_iou_0.5']:.3f} [{low:.3f}, {high:.3f}]"
        )
    return "; ".join(parts)


def misses(row):
    """Where a row's validation faces were missed at IoU 0.5, as text."""
    if row is None:
        return "not measured (the framer is not installed)"
    loose = row["framed_off_loose_val"]
    return (
        f"{1 - row['recall_iou_0.3_val']:.4f} not found at IoU 0.3; {loose:.4f} framed off "
        f"where the detector's box overlaps the face by under IoU 0.3 (the box inside a "
        f"frame FER2013 drew loosely around a small face); {row['framed_off_val'] - loose:.4f} "
        f"framed off otherwise"
    )


def rule(row, key):
    """A row's margin or rise, or "framer" where the framer framed its faces."""
    return "framer" if row[key] is None else f"{row[key]:.2f}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=default_data())
    p.add_argument("--faces", type=int, default=600, help="public test faces scored")
    p.add_argument(
        "--train-faces", type=int, default=300, help="training faces the choices are made on"
    )
    p.add_argument(
        "--val-faces",
        type=int,
        default=None,
        help="validation faces scored, where the claims are made (default: the whole split)",
    )
    p.add_argument("--model", default="models/small.keras")
    args = p.parse_args(argv)
    import_tensorflow_quietly()
    data = load_data(args.data)
    model, _ = load_run(args.model)
    rng = np.random.default_rng(0)
    train = data.x_train[rng.choice(len(data.x_train), args.train_faces, replace=False), :, :, 0]
    # Faces of the classifiers' validation split, which the framer did not train on.
    _, val_idx = validation_split(data.y_train, 0.1, 0)
    val = data.x_train[val_idx[: args.val_faces], :, :, 0]
    val_labels = data.y_train[val_idx[: args.val_faces]]
    faces, labels = data.public_faces
    pick = rng.choice(len(faces), min(args.faces, len(faces)), replace=False)
    faces, labels = faces[pick, :, :, 0], labels[pick]
    # The classifier on the original crops: what end to end is measured against.
    crops_accuracy, crops_accuracy_val = (
        accuracy(predict_probs(model, x[..., None]).argmax(1), y)
        for x, y in ((faces, labels), (val, val_labels))
    )
    thresholds, by_threshold, train_found = choose_thresholds(train)
    # name: (detector, its detections of the training scenes, its crop: None where
    # choose_crop chooses a box rule).
    candidates = {}
    for name, m in BLAZEFACE_MODELS.items():
        detector = BlazeFace(blazeface_path(m), m, thresholds[name], framed=False)
        candidates[f"blazeface {name}"] = (detector, train_found[name], None)
        if m == BLAZEFACE and framer_available():
            candidates[f"blazeface {name} + framer"] = (detector, train_found[name], FramedCrop())
    haar = make_detector("haar")
    candidates["haar"] = (haar, detections(haar, train, seed=1), None)
    rows, searched, searched_val = {}, {}, {}
    for name, (detector, train_detected, crop) in candidates.items():
        by_crop = {}
        if crop is None:
            crop, by_crop = choose_crop(train_detected)
        if id(detector) not in searched:
            searched[id(detector)] = detections(detector, faces, seed=2)
        scored = searched[id(detector)]
        if id(detector) not in searched_val:
            searched_val[id(detector)] = detections(detector, val, seed=3)
        public = end_to_end(model, scored, crop, labels)
        on_val = end_to_end(model, searched_val[id(detector)], crop, val_labels)
        rows[name] = {
            "score_above": getattr(detector, "min_score", None),
            "margin": getattr(crop, "margin", None),
            "rise": getattr(crop, "rise", None),
            "recall_train": rates(train_detected, crop)[0],
            "recall_val": on_val["recall_iou_0.5"],
            "end_to_end_accuracy_val": on_val["end_to_end_accuracy"],
            "recall_iou_0.3_val": on_val["recall_iou_0.3"],
            "framed_off_val": on_val["framed_off"],
            "framed_off_loose_val": on_val["framed_off_loose"],
            "end_to_end_accuracy_iou_0.3_val": on_val["end_to_end_accuracy_iou_0.3"],
            "mean_crop_iou_by_margin_and_rise_train": {
                f"{c.margin:g} {c.rise:g}": round(v, 4) for c, v in by_crop.items()
            },
            **public,
            "false_a_scene": rates(scored, crop)[1],
            "recall_alone": alone(detector, faces, crop),
        }
        rows[name]["framed_off_train"], rows[name]["side_ratio_p5_p95_train"] = framing(
            train_detected, crop
        )
    blazeface = [n for n in rows if n.startswith("blazeface") and "framer" not in n]
    chosen = max(blazeface, key=lambda n: rows[n]["recall_train"])
    machine = describe()
    result = {
        "cpu": machine["cpu"],
        "model": os.path.relpath(args.model),
        "faces": len(faces),
        "train_faces": len(train),
        "val_faces": len(val),
        "classifier_computes_in": computes_in(model),
        "crops_accuracy": crops_accuracy,
        "crops_accuracy_val": crops_accuracy_val,
        "chosen_blazeface": chosen,
        "thresholds_train": {
            n: {str(t): {"recall": r, "false_a_scene": f} for t, (r, f) in by.items()}
            for n, by in by_threshold.items()
        },
        "detectors": rows,
    }
    (RESULTS / "detect.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        f"{machine['cpu']}. {len(faces)} public test faces and, for the choices, "
        f"{len(train)} training faces, each placed once into a 640x360 scene at "
        f"{SCALES[0]}-{SCALES[1]} pixels on noise or non-face image content; classified by "
        f"{result['model']} (computing in {result['classifier_computes_in']} on this CPU), "
        f"whose accuracy on the original crops is {crops_accuracy_val:.4f} on validation "
        f"and {crops_accuracy:.4f} on public. Chosen on training faces: BlazeFace's "
        f"{chosen.split()[1]} model (most recall), its score threshold and each crop's "
        f"margin and rise. The framer (ferkit/deploy/data/framer.json) frames the back "
        f"model's boxes in place of a margin and rise, as shipped; it was trained on "
        f"training faces, most of these among them, so its recall on training flatters "
        f"it; validation: {len(val)} faces of the classifiers' validation split, which "
        f"neither the framer nor the classifier trained on, in scenes of their own.",
        "",
        "| detector | score above | margin | rise | recall (training) | recall (validation) "
        "| accuracy end to end (validation) | recall at IoU 0.5 (public) "
        "| false a scene | recall, each face alone | mean IoU of the crop "
        "| accuracy end to end (public) |",
        "| --- |" + " ---: |" * 11,
    ]
    for name, r in rows.items():
        score = "-" if r["score_above"] is None else f"{r['score_above']:.1f}"
        lines.append(
            f"| {name}{' (chosen)' if name == chosen else ''} | {score} "
            f"| {rule(r, 'margin')} | {rule(r, 'rise')} "
            f"| {r['recall_train']:.4f} | {r['recall_val']:.4f} "
            f"| {r['end_to_end_accuracy_val']:.4f} | {r['recall_iou_0.5']:.4f} "
            f"| {r['false_a_scene']:.3f} "
            f"| {r['recall_alone']:.4f} | {r['mean_crop_iou']:.4f} "
            f"| {r['end_to_end_accuracy']:.4f} |"
        )
    lines += [
        "",
        "A missed face counts as wrong end to end. False a scene: detections whose crop "
        "overlaps no placed face by IoU 0.3. The margin grows the detector's box on each "
        "side by that share of its longer side before the square crop is taken; the rise "
        "moves the crop's centre up by such a share. Each face "
        "alone: the same faces, 96 pixels wide at the centre of a grey 192-pixel square: "
        "what the detector finds of FER2013's tightly cropped faces with no scene around "
        "them, a ceiling for the recall in scenes.",
        "",
        "How sure these recalls are: each is a share of the faces scored, "
        f"{len(val)} on validation and {len(faces)} on public. Their 95% "
        "(Wilson) intervals, validation and public: "
        + recall_intervals(rows, len(val), len(faces))
        + ".",
        "",
        "Where the misses are. A face is found, framed otherwise, where a crop overlaps it "
        "by IoU 0.3 to 0.5; at 0.5 a centred crop's side must lie within 0.71 to 1.41 "
        "times the face's. FER2013 frames its faces unevenly (tighter or looser around the "
        "same face), so every fixed crop rule misses some of them at IoU 0.5; the spread "
        "of the crop's side over the placed face's, on training faces, shows how much. "
        "Accuracy end to end, found at IoU 0.3: a face counts as right where a crop "
        "overlaps it by IoU 0.3 and is classified right.",
        "",
        "Of the validation faces, with the framer: "
        + misses(rows.get("blazeface back + framer"))
        + ".",
        "",
        "| detector | found at IoU 0.3 (validation) | accuracy end to end, found at IoU 0.3 "
        "(validation) | found at IoU 0.3 (public) | accuracy end to end, found at IoU 0.3 "
        "(public) | framed off (training) | crop side / face side, 5th-95th percentile "
        "(training) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        *(
            f"| {name} | {r['recall_iou_0.3_val']:.4f} "
            f"| {r['end_to_end_accuracy_iou_0.3_val']:.4f} | {r['recall_iou_0.3']:.4f} "
            f"| {r['end_to_end_accuracy_iou_0.3']:.4f} | {r['framed_off_train']:.4f} "
            f"| {r['side_ratio_p5_p95_train'][0]:.2f}-{r['side_ratio_p5_p95_train'][1]:.2f} |"
            for name, r in rows.items()
        ),
        "",
        "Each BlazeFace model's score threshold, on the training scenes (margin 0.1): the "
        f"lowest with under {FALSE_RATE:g} false detections a scene.",
        "",
        "| model | " + " | ".join(f"above {t:g}: recall, false" for t in THRESHOLDS) + " |",
        "| --- |" + " ---: |" * len(THRESHOLDS),
        *(
            f"| {n} | " + " | ".join(f"{r:.3f}, {f:.3f}" for r, f in by.values()) + " |"
            for n, by in by_threshold.items()
        ),
    ]
    publish("detect", lines)


if __name__ == "__main__":
    main()
