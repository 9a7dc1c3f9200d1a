"""Does the framer read faces, or the way they were placed? The shipped framer against the
box rule on the validation split's faces, placed four ways.

A FER2013 face enlarged into a scene carries the grid of its 48 pixels, whose size is the
frame's: a framer could learn to read it, and then fail on photos, which have no grid.
So besides placements as in training (40-170 pixels into a grey square, some blurred),
the faces are placed enlarged and sharp (the grid plain to see), shrunk to 36-47 pixels (no
grid), and enlarged then blurred by 0.8 of a face pixel (the grid gone). A framer that
reads faces frames the last two as well as the others. Validation faces only; no choice
is made here.
Usage: python bench/framer.py [--faces 1500]
"""

import argparse

import cv2
import numpy as np
from report import default_data, publish

from ferkit.data import load_data, validation_split
from ferkit.deploy import framer_fit
from ferkit.deploy.detect import CROPS, BlazeFace, blazeface_path, iou
from ferkit.deploy.framing import Framer, framer_record, inner
from ferkit.machine import describe

CANVAS = 256
# name: None (placed as in training), or ((smallest, largest side), blur in face pixels)
# into a grey square.
PLACEMENTS = {
    "as in training": None,
    "enlarged, sharp (64-170 px)": ((64, 170), 0.0),
    "shrunk (36-47 px): no grid": ((36, 47), 0.0),
    "enlarged, blurred 0.8 face px: no grid": ((64, 170), 0.8),
}


def place(face, rng, how):
    """(canvas, frame (x, y, side)) of one face placed as `how` says."""
    if how is None:
        return framer_fit.place(face, rng)
    (low, high), blur = how
    side = int(rng.integers(low, high + 1))
    canvas = np.full((CANVAS, CANVAS), int(rng.integers(40, 211)), np.uint8)
    x, y = (int(v) for v in rng.integers(8, CANVAS - side - 8, size=2))
    shrink = side < face.shape[0]
    canvas[y : y + side, x : x + side] = cv2.resize(
        face, (side, side), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    )
    if blur:
        canvas = cv2.GaussianBlur(canvas, (0, 0), blur * side / face.shape[0])
    return canvas, (x, y, side)


def framed(faces, detector, how, seed):
    """(framer inputs, targets) of the faces the detector finds at IoU 0.3."""
    rng = np.random.default_rng(seed)
    inputs, targets = [], []
    for face in faces:
        canvas, (x, y, side) = place(face, rng, how)
        boxes = [f.box for f in detector(canvas)]
        if not boxes:
            continue
        corners = np.array([[bx, by, bx + bw, by + bh] for bx, by, bw, bh in boxes], float)
        overlap = iou(np.array([x, y, x + side, y + side], float), corners)
        best = int(np.argmax(overlap))
        if overlap[best] >= 0.3:
            inputs.append(inner(canvas, boxes[best]))
            targets.append(framer_fit.target(boxes[best], (x, y, side)))
    return np.array(inputs)[..., None], np.array(targets)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=default_data())
    p.add_argument("--faces", type=int, default=1500, help="validation faces a placement")
    args = p.parse_args(argv)
    data = load_data(args.data)
    _, val_idx = validation_split(data.y_train, 0.1, 0)
    faces = data.x_train[val_idx[: args.faces], :, :, 0]
    detector = BlazeFace(blazeface_path(), framed=False)
    framer = Framer()
    rule = CROPS["blazeface"]
    fixed = np.array([np.log(1 + 2 * rule.margin), 0.0, -rule.rise])
    lines = [
        f"{describe()['cpu']}. The shipped framer ({framer_record()['command']}) against "
        f"the box rule (margin {rule.margin:g}, rise {rule.rise:g}) on {len(faces)} faces "
        "of the validation split, each placed once into a grey 256-pixel square; scored on "
        "the faces BlazeFace finds (IoU 0.3).",
        "",
        "| placed | faces found | framed at IoU 0.5: framer | box rule | mean IoU: framer "
        "| box rule | error of the log side ratio (RMS): framer | box rule |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for k, (name, how) in enumerate(PLACEMENTS.items()):
        x, t = framed(faces, detector, how, seed=100 + k)
        ours = framer_fit.scores(framer.predict(x), t)
        theirs = framer_fit.scores(np.tile(fixed, (len(t), 1)), t)
        lines.append(
            f"| {name} | {len(t)} | {ours['share_iou_0.5']:.4f} | {theirs['share_iou_0.5']:.4f} "
            f"| {ours['mean_iou']:.4f} | {theirs['mean_iou']:.4f} "
            f"| {ours['residual_rms'][0]:.3f} | {theirs['residual_rms'][0]:.3f} |"
        )
    publish("framer", lines)


if __name__ == "__main__":
    main()
