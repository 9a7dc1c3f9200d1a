"""How a camera's faces are followed: BlazeFace.follow's square and score threshold,
chosen on clips of training faces.

Each training face drifts alone over bench/video.py's grey gradient at 64, 110 or 160
pixels; the whole frame is searched for it, then followed from frame to frame (searched
whole again where it was lost). Kept: the share of follows that re-found the face.
Never kept: the faces whose every follow failed. False follows: random boxes on
bench/detect.py's faceless backgrounds that a follow turned into a face. Chosen: the
most kept with no false follow; detect.FOLLOW_REGION and detect.FOLLOW_SCORE hold it.
Usage: python bench/follow.py [--faces 150]
"""

import argparse
import itertools

import numpy as np
from detect import backgrounds
from report import default_data, publish
from video import clip_frames

from ferkit.data import load_data
from ferkit.deploy import detect
from ferkit.deploy.detect import grey, make_detector

REGIONS = (2.0, 3.0, 4.0)
SCORES = (0.4, 0.3, 0.2, 0.1)
SIDES = (64, 110, 160)
FRAMES = 8


def clips(faces):
    """Grey frames of each face drifting alone, at the sizes in SIDES in turn."""
    for i, face in enumerate(faces):
        yield [grey(f) for f in clip_frames(face[None], FRAMES, SIDES[i % len(SIDES)])]


def kept(detector, frames):
    """The share of follows that re-found the clip's face (None: never found whole)."""
    faces, tried, found = detector(frames[0]), 0, 0
    for gray in frames[1:]:
        if not faces:
            faces = detector(gray)
            continue
        followed = detector.follow(gray, [f.box for f in faces])
        tried, found = tried + 1, found + bool(followed)
        faces = followed or detector(gray)
    return found / tried if tried else None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=default_data())
    p.add_argument("--faces", type=int, default=150)
    args = p.parse_args(argv)
    faces = load_data(args.data).x_train[: args.faces, :, :, 0]
    frames = list(clips(faces))
    detector = make_detector("blazeface")
    rng = np.random.default_rng(0)
    grounds = backgrounds()
    sides = rng.integers(50, 150, 200)
    empty = [(int(rng.integers(0, 500)), int(rng.integers(0, 250)), s, s) for s in sides]
    rows, chosen = [], None
    for region, score in itertools.product(REGIONS, SCORES):
        detect.FOLLOW_REGION, detect.FOLLOW_SCORE = region, score
        shares = np.array([k for k in (kept(detector, f) for f in frames) if k is not None])
        false = sum(bool(detector.follow(grounds[i % 4], [b])) for i, b in enumerate(empty))
        rows.append((region, score, shares.mean(), np.mean(shares == 0), false, len(shares)))
        if not false and (chosen is None or shares.mean() > chosen[2]):
            chosen = rows[-1]
    publish(
        "follow",
        [
            f"{args.faces} training faces, each alone in a {FRAMES}-frame "
            f"640x360 clip at {', '.join(map(str, SIDES))} pixels; {len(empty)} random "
            "boxes on faceless backgrounds. Chosen: the most kept with no false follow.",
            "",
            "| square (x box) | score above | follows kept | faces never kept "
            "| false follows | faces found whole | chosen |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | --- |",
            *(
                f"| {r:g} | {s:g} | {k:.3f} | {n:.3f} | {f} | {m} | "
                f"{'yes' if (r, s) == chosen[:2] else ''} |"
                for r, s, k, n, f, m in rows
            ),
        ],
    )


if __name__ == "__main__":
    main()
