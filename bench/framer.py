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

import numpy as np
from report import default_data, publish

from ferkit.data import load_data, validation_split
from ferkit.deploy import framer_fit
from ferkit.deploy.detect import CROPS, BlazeFace, blazeface_path
from ferkit.deploy.framing import Framer, framer_record, rule_frame
from ferkit.machine import describe

# name: framer_fit.place's sides and blur (in face pixels) into a grey square; none: as
# in training.
PLACEMENTS = {
    "as in training": {},
    "enlarged, sharp (64-170 px)": {"sides": (64, 170), "blur": 0.0},
    "shrunk (36-47 px): no grid": {"sides": (36, 47), "blur": 0.0},
    "enlarged, blurred 0.8 face px: no grid": {"sides": (64, 170), "blur": 0.8},
}


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
    fixed = rule_frame(rule)
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
    for k, (name, placing) in enumerate(PLACEMENTS.items()):
        x, t, _ = framer_fit.samples(faces, detector, 100 + k, **placing)
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
