"""How good the face crops are: each detector on composite scenes of FER2013 faces.

Every face is placed once into a 640x360 scene, at a random scale (64 to 200 pixels) and
position, on a background of smoothed noise or of other image content (matplotlib's
non-face sample images: terrain, an MRI slice, a photo of a package). A detection counts
where its crop box (the box grown by the detector's margin, squared) overlaps the placed
face by IoU 0.5 or more.

The margin of each detector is chosen on training faces alone: the one whose crop box
overlaps the placed faces most, on average. Public test faces then give the recall, and
the accuracy end to end (detect, crop, classify; a missed face counts as wrong) beside
the accuracy on the original crops; their labels score, they choose nothing.
Usage: python bench/detect.py [--faces 600] [--model models/small.keras]
"""

import argparse
import json
import os
from pathlib import Path

import cv2
import matplotlib
import numpy as np
from report import RESULTS, default_data, publish

from ferkit.data import load_data
from ferkit.deploy.detect import crop_face, crop_square, iou, make_detector
from ferkit.evaluate import predict_probs
from ferkit.machine import describe
from ferkit.quiet import import_tensorflow_quietly
from ferkit.record import load_run

W, H = 640, 360
SCALES = (64, 200)
MARGINS = np.round(np.arange(-0.1, 0.31, 0.05), 2)
DETECTORS = ("blazeface", "haar")


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
        scene[y : y + side, x : x + side] = cv2.resize(face, (side, side), cv2.INTER_CUBIC)
        yield scene, (x, y, side, side)


def alone(detector, faces, margin, side=96):
    """Recall of each face alone, `side` pixels wide at the centre of a grey square of
    twice that: BlazeFace's input at a scale it finds faces best, no scene around them."""
    hits = []
    for face in faces:
        canvas = np.full((2 * side, 2 * side), 110, np.uint8)
        o = side // 2
        canvas[o : o + side, o : o + side] = cv2.resize(face, (side, side), cv2.INTER_CUBIC)
        found = [f.box for f in detector(canvas)]
        hits.append(best_overlap(found, (o, o, side, side), margin)[0] >= 0.5)
    return float(np.mean(hits))


def crop_box(box, margin):
    """The square a crop of box with margin covers (detect.crop_square), as x0, y0, x1, y1."""
    cx, cy, side = crop_square(box, margin)
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def detections(detector, faces, seed):
    """[(scene, truth, [face boxes])] of every face placed into a scene."""
    return [
        (scene, truth, [f.box for f in detector(scene)]) for scene, truth in scenes(faces, seed)
    ]


def best_overlap(found, truth, margin):
    """(IoU, box) of the detection whose crop box overlaps the placed face most."""
    if not found:
        return 0.0, None
    x, y, s, _ = truth
    target = np.array([x, y, x + s, y + s], float)
    overlaps = [float(iou(target, crop_box(b, margin)[None])[0]) for b in found]
    k = int(np.argmax(overlaps))
    return overlaps[k], found[k]


def choose_margin(detected):
    """The margin whose crop boxes overlap the placed faces most, on average."""
    means = {float(m): np.mean([best_overlap(f, t, m)[0] for _, t, f in detected]) for m in MARGINS}
    return max(means, key=means.get), means


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=default_data())
    p.add_argument("--faces", type=int, default=600, help="public test faces scored")
    p.add_argument(
        "--train-faces", type=int, default=300, help="training faces the margin is chosen on"
    )
    p.add_argument("--model", default="models/small.keras")
    args = p.parse_args(argv)
    import_tensorflow_quietly()
    data = load_data(args.data)
    model, _ = load_run(args.model)
    rng = np.random.default_rng(0)
    train = data.x_train[rng.choice(len(data.x_train), args.train_faces, replace=False), :, :, 0]
    faces, labels = data.public_faces
    pick = rng.choice(len(faces), min(args.faces, len(faces)), replace=False)
    faces, labels = faces[pick, :, :, 0], labels[pick]
    crops_accuracy = float(np.mean(predict_probs(model, faces[..., None]).argmax(1) == labels))
    rows = {}
    for name in DETECTORS:
        detector = make_detector(name)
        margin, by_margin = choose_margin(detections(detector, train, seed=1))
        scored = detections(detector, faces, seed=2)
        matched = [best_overlap(found, truth, margin) for _, truth, found in scored]
        hit = np.array([o >= 0.5 for o, _ in matched])
        crops = np.zeros((len(faces), 48, 48, 1), np.uint8)
        for k, ((scene, _, _), (_, box)) in enumerate(zip(scored, matched)):
            if box is not None:
                crops[k, :, :, 0] = crop_face(scene, box, margin)
        predicted = predict_probs(model, crops).argmax(1)
        rows[name] = {
            "margin": margin,
            "mean_crop_iou_by_margin_train": {str(k): round(v, 4) for k, v in by_margin.items()},
            "recall_iou_0.5": float(hit.mean()),
            "recall_alone": alone(detector, faces, margin),
            "mean_crop_iou": float(np.mean([o for o, _ in matched])),
            "end_to_end_accuracy": float(np.mean(hit & (predicted == labels))),
        }
    machine = describe()
    result = {
        "cpu": machine["cpu"],
        "model": os.path.relpath(args.model),
        "faces": len(faces),
        "train_faces": len(train),
        "crops_accuracy": crops_accuracy,
        "detectors": rows,
    }
    (RESULTS / "detect.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        f"{len(faces)} public test faces and, for choosing each detector's margin, "
        f"{len(train)} training faces, each placed once into a 640x360 scene at "
        f"{SCALES[0]}-{SCALES[1]} pixels on noise or non-face image content; "
        f"classified by {result['model']}, whose accuracy on the original crops is "
        f"{crops_accuracy:.4f}.",
        "",
        "| detector | margin (chosen on training faces) | recall at IoU 0.5 | recall, each "
        "face alone | mean IoU of the crop | accuracy end to end | accuracy on the crops |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['margin']:.2f} | {r['recall_iou_0.5']:.4f} | {r['recall_alone']:.4f} "
            f"| {r['mean_crop_iou']:.4f} | {r['end_to_end_accuracy']:.4f} | {crops_accuracy:.4f} |"
        )
    lines += [
        "",
        "A missed face counts as wrong end to end. The margin grows the detector's box on "
        "each side by that share of its longer side before the square crop is taken. Each "
        "face alone: the same faces, 96 pixels wide at the centre of a grey 192-pixel "
        "square (BlazeFace's input, one run at the scale it finds faces best): what the "
        "detector finds of FER2013's tightly cropped faces with no scene around them, a "
        "ceiling for the recall in scenes.",
    ]
    publish("detect", lines)


if __name__ == "__main__":
    main()
