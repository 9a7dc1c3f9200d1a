"""Framing a detected face as FER2013 frames its faces, from what the face looks like.

FER2013 frames its faces unevenly: on the same detector's boxes, the FER2013 frame's side
varies by a factor of 1.2 either way from face to face (bench/results/detect.md), and a
detector's box moved and grown by fixed shares cannot follow it. The framer, a small CNN,
reads the middle of a BlazeFace box (a share of it that stays inside the face, so it sees
no frame edge) and says where FER2013's frame lies around that box: its side over the
box's longer side (as a log) and its centre's offset from the box's, in box sides. It was
trained on training faces placed into scenes (ferkit/deploy/framer_fit.py); its weights
ship in this package and run on LiteRT, as BlazeFace does, so nothing here imports
TensorFlow.
"""

import json
from pathlib import Path

import numpy as np

from ferkit.deploy.squares import cut
from ferkit.machine import cores

FRAMER_FILE = Path(__file__).parent / "data" / "framer.tflite"
# The framer's input: the middle INNER of the square of the box's longer side, INPUT
# pixels wide. 0.6 keeps the input inside the FER2013 frame for 99% of training faces.
INNER = 0.6
INPUT = 32


def framer_record(path=FRAMER_FILE):
    """The framer's record (how it was trained, what it scored), or None."""
    record = Path(path).with_suffix(".json")
    return json.loads(record.read_text()) if record.exists() else None


def inner(gray, box, size=INPUT):
    """The framer's input for box (x, y, w, h): the middle INNER of the square of its
    longer side, size x size uint8 (cut, with INTER_AREA either way, as the classifier's
    crops: the page's faces.js has it exactly); beyond the image, its edge repeated."""
    x, y, w, h = box
    return cut(gray, (x + w / 2, y + h / 2, INNER * max(w, h)), size)


def rule_frame(crop):
    """The frame (log side ratio, dx, dy) a box rule (detect.Crop) takes around any box:
    the box's longer side grown by its margin on each side, raised by its rise."""
    return np.array([np.log(1 + 2 * crop.margin), 0.0, -crop.rise])


def frame_square(box, frame):
    """(centre x, centre y, side) of the frame (log side ratio, dx, dy) around box."""
    x, y, w, h = box
    long = max(w, h)
    return x + w / 2 + frame[1] * long, y + h / 2 + frame[2] * long, long * np.exp(frame[0])


class Framer:
    """The shipped framer on LiteRT's interpreter: frames(gray, boxes) says where FER2013
    would frame each face."""

    def __init__(self, path=FRAMER_FILE):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self.interpreter = Interpreter(model_path=str(path), num_threads=cores())
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self.batch = None

    def frames(self, gray, boxes):
        """(n, 3) frames (log side ratio, dx, dy) of boxes in a grey image."""
        if not len(boxes):
            return np.zeros((0, 3), np.float32)
        return self.predict(np.stack([inner(gray, b) for b in boxes])[..., None])

    def predict(self, x):
        """(n, 3) frames of framer inputs x (n, INPUT, INPUT, 1), grey levels."""
        x = np.asarray(x, np.float32)
        if self.batch != len(x):
            self.interpreter.resize_tensor_input(self.input["index"], x.shape)
            self.interpreter.allocate_tensors()
            self.batch = len(x)
        self.interpreter.set_tensor(self.input["index"], x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output).copy()

    def squares(self, gray, boxes):
        """[(centre x, centre y, side)] of the FER2013 frames of boxes."""
        return [frame_square(b, f) for b, f in zip(boxes, self.frames(gray, boxes))]


def framer_available(path=FRAMER_FILE):
    """Whether the framer's file and its runtime are installed."""
    if not Path(path).exists():
        return False
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


class FramedCrop:
    """A detector's crop (ferkit.deploy.detect.Crop's interface) that frames each face
    where the framer says FER2013 would."""

    def __init__(self, path=FRAMER_FILE):
        self.framer = Framer(path)

    def squares(self, gray, boxes):
        """[(centre x, centre y, side)] of the frames of boxes, in one framer run."""
        return self.framer.squares(gray, boxes)

    def crops(self, gray, boxes):
        """(n, 48, 48) uint8: the framed faces of boxes."""
        return np.array([cut(gray, q) for q in self.squares(gray, boxes)], np.uint8)

    def __call__(self, gray, box):
        """The framed face in box, as 48x48 uint8."""
        return self.crops(gray, [box])[0]
