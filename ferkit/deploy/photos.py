"""Faces in ordinary photos: detect with OpenCV's bundled Haar cascade, crop like FER2013."""

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import matplotlib.cbook
import numpy as np

from ferkit import IMAGE_SIZE, class_names_for
from ferkit.errors import InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}


@dataclass
class PhotoResult:
    """One image: where its faces are and what the model says about each."""

    path: Path
    boxes: list = field(default_factory=list)  # (x, y, w, h) per face
    probs: list = field(default_factory=list)  # (7,) per face
    annotated: Path | None = None  # the copy with boxes and labels


def cascade():
    path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
    detector = cv2.CascadeClassifier(str(path))
    if detector.empty():
        raise RuntimeError(f"OpenCV could not load its face cascade {path}")
    return detector


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


def detect_faces(gray, detector, min_size=30):
    """Face boxes (x, y, w, h), largest first."""
    found = detector.detectMultiScale(
        gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_size,) * 2
    )
    boxes = [tuple(int(v) for v in box) for box in found]
    return sorted(boxes, key=lambda b: -b[2] * b[3])


def crop_face(gray, box, margin=0.1):
    """A square crop around the box, grown by `margin` on each side (FER2013 faces show a
    little forehead and chin beyond the cascade's box), as 48x48 uint8."""
    x, y, w, h = box
    side = int(round(max(w, h) * (1 + 2 * margin)))
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    # Pad by edge replication so crops at the border keep the face centred.
    pad = max(0, -x0, -y0, x0 + side - gray.shape[1], y0 + side - gray.shape[0])
    padded = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else gray
    crop = padded[y0 + pad : y0 + pad + side, x0 + pad : x0 + pad + side]
    return cv2.resize(crop, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)


def faces_in_image(image, detector, margin=0.1):
    """(boxes, crops (n, 48, 48, 1) uint8) for a BGR image."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    boxes = detect_faces(gray, detector)
    crops = np.array([crop_face(gray, b, margin) for b in boxes], np.uint8)
    return boxes, crops.reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1)


def annotate(image, boxes, probs):
    """A copy of the image with a box, the label and its probability for every face."""
    out = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 400))
    for (x, y, w, h), p in zip(boxes, probs):
        label = f"{class_names_for(len(p))[int(np.argmax(p))]} {float(np.max(p)):.2f}"
        cv2.rectangle(out, (x, y), (x + w, y + h), (0, 200, 255), thickness + 1)
        scale = max(0.4, w / 250)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = max(th + base, y)
        cv2.rectangle(out, (x, top - th - base), (x + tw, top), (0, 200, 255), -1)
        cv2.putText(
            out, label, (x, top - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness
        )
    return out


def result_rows(results):
    """One flat row per face: image, face index, box, label, probability of every class."""
    rows = []
    for r in results:
        for i, (box, p) in enumerate(zip(r.boxes, r.probs)):
            row = {
                "image": str(r.path),
                "face": i,
                "x": box[0],
                "y": box[1],
                "w": box[2],
                "h": box[3],
            }
            names = class_names_for(len(p))
            row["label"] = names[int(np.argmax(p))]
            row["probability"] = round(float(np.max(p)), 6)
            row.update({f"p_{c}": round(float(v), 6) for c, v in zip(names, p)})
            rows.append(row)
    return rows
