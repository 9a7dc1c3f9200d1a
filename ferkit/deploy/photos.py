"""Faces in ordinary photos: found by ferkit.deploy.detect, cropped like FER2013, drawn
on a copy and listed one row a face."""

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import matplotlib.cbook
import numpy as np

from ferkit import IMAGE_SIZE, class_names_for
from ferkit.deploy.detect import grey
from ferkit.errors import InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}


@dataclass
class PhotoResult:
    """One image: where its faces are and what the model says about each."""

    path: Path
    boxes: list = field(default_factory=list)  # (x, y, w, h) per face
    scores: list = field(default_factory=list)  # the detector's, per face (None: Haar)
    probs: list = field(default_factory=list)  # (classes,) per face
    annotated: Path | None = None  # the copy with boxes and labels


def demo_image():
    """The portrait matplotlib ships as sample data (Grace Hopper)."""
    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def expand_inputs(args):
    """Image files from file and folder arguments; folders are searched recursively."""
    paths = []
    for arg in map(Path, args):
        if arg.is_dir():
            found = sorted(p for p in arg.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            paths.extend(found)
        else:
            paths.append(arg)
    return paths


def read_image(path):
    """BGR image array; raises InputError for a missing or non-image file."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(path, "not a readable image")
    return image


def faces_in_image(image, detector):
    """(faces, crops (n, 48, 48, 1) uint8) for a BGR image; detector: a callable of
    ferkit.deploy.detect, cropping as its `crop` says."""
    gray = grey(image)
    faces = detector(gray)
    crops = detector.crop.crops(gray, [f.box for f in faces])
    return faces, crops.reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1)


# Box colours (BGR); a video's faces each keep theirs.
COLOURS = [(0, 200, 255), (255, 120, 0), (80, 220, 80), (200, 80, 255), (0, 80, 255)]


def annotate(image, boxes, probs, ids=None):
    """A copy of the image with a box, the label and its probability for every face, and
    its id where faces are followed across frames."""
    out = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 400))
    for k, ((x, y, w, h), p) in enumerate(zip(boxes, probs)):
        label = f"{class_names_for(len(p))[int(np.argmax(p))]} {float(np.max(p)):.2f}"
        colour = COLOURS[0 if ids is None else ids[k] % len(COLOURS)]
        if ids is not None:
            label = f"#{ids[k]} {label}"
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thickness + 1)
        scale = max(0.4, w / 250)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = max(th + base, y)
        cv2.rectangle(out, (x, top - th - base), (x + tw, top), colour, -1)
        cv2.putText(
            out, label, (x, top - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness
        )
    return out


def result_rows(results):
    """One flat row per face: image, face index, box, label, probability of every class."""
    rows = []
    for r in results:
        scores = r.scores or [None] * len(r.boxes)
        for i, (box, score, p) in enumerate(zip(r.boxes, scores, r.probs)):
            row = {
                "image": str(r.path),
                "face": i,
                "x": box[0],
                "y": box[1],
                "w": box[2],
                "h": box[3],
                "score": None if score is None else round(score, 4),
            }
            names = class_names_for(len(p))
            row["label"] = names[int(np.argmax(p))]
            row["probability"] = round(float(np.max(p)), 6)
            row.update({f"p_{c}": round(float(v), 6) for c, v in zip(names, p)})
            rows.append(row)
    return rows
