"""The page's faces.js against OpenCV and ferkit.deploy.detect, run in Node: the same grey
levels, the same resampling, the same crop and the same decoded boxes."""

import json
import shutil
import subprocess

import cv2
import numpy as np
import pytest
from conftest import ROOT

from ferkit.deploy import detect, framing

MIN_SCORE = detect.BLAZEFACE.min_score

NODE = shutil.which("node")
FACES_JS = ROOT / "ferkit" / "web" / "page" / "faces.js"
pytestmark = pytest.mark.skipif(
    NODE is None, reason="Node.js is absent (Debian: apt install nodejs)"
)


def node(tmp_path, script, data):
    """Runs an ES module script in Node with `data` (JSON) as its global `data`; returns
    what it prints, parsed as JSON."""
    (tmp_path / "data.json").write_text(json.dumps(data))
    module = tmp_path / "run.mjs"
    module.write_text(
        f'import fs from "fs";\nimport * as faces from "{FACES_JS.as_uri()}";\n'
        f'const data = JSON.parse(fs.readFileSync("{tmp_path / "data.json"}"));\n{script}'
    )
    done = subprocess.run([NODE, str(module)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_grey_levels_are_opencvs(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (40, 70, 3), dtype=np.uint8)
    rgba = np.concatenate([rgb, np.full((40, 70, 1), 255, np.uint8)], axis=2)
    script = "console.log(JSON.stringify(Array.from(faces.grey(data.rgba, 70, 40).data)));"
    page = node(tmp_path, script, {"rgba": rgba.ravel().tolist()})
    python = cv2.cvtColor(rgb[..., ::-1], cv2.COLOR_BGR2GRAY)
    assert np.array_equal(np.array(page).reshape(40, 70), python)


# Shrinking (the detector's 192-pixel input, most face crops) is bit-exact; growing (faces
# under 48 pixels) rounds as OpenCV's vector code does only within one grey level.
SIZES = [(640, 192, 0), (360, 192, 0), (384, 192, 0), (97, 48, 0), (96, 48, 0), (150, 48, 0)]
SIZES += [(144, 48, 0), (30, 48, 1), (47, 48, 1)]


def test_area_resampling_is_opencvs(tmp_path):
    rng = np.random.default_rng(1)
    cases = []
    for source, size, _ in SIZES:
        noise = rng.integers(0, 256, (source, source), dtype=np.uint8)
        cases.append(
            {"src": cv2.GaussianBlur(noise, (0, 0), 2).ravel().tolist(), "s": source, "d": size}
        )
    script = (
        "console.log(JSON.stringify(data.cases.map((c) => Array.from(faces.resizeArea("
        "{data: Uint8Array.from(c.src), width: c.s, height: c.s}, c.d, c.d).data))));"
    )
    page = node(tmp_path, script, {"cases": cases})
    for (source, size, tolerance), case, out in zip(SIZES, cases, page):
        src = np.array(case["src"], np.uint8).reshape(source, source)
        python = cv2.resize(src, (size, size), interpolation=cv2.INTER_AREA).astype(int)
        assert np.abs(np.array(out).reshape(size, size) - python).max() <= tolerance, (source, size)


def test_crops_are_crop_faces(tmp_path):
    rng = np.random.default_rng(2)
    picture = cv2.GaussianBlur(rng.integers(0, 256, (120, 160), dtype=np.uint8), (0, 0), 2)
    # Inside, over every edge (the border repeats it), and with half-pixel centres.
    boxes = [(30, 20, 60, 60), (-10, -5, 50, 70), (130, 90, 40, 45), (41, 33, 57, 56)]
    script = (
        "const src = {data: Uint8Array.from(data.picture), width: 160, height: 120};\n"
        "console.log(JSON.stringify(data.boxes.map((b) => "
        "Array.from(faces.cropFace(src, b, 0.1, 0.15).data))));"
    )
    page = node(tmp_path, script, {"picture": picture.ravel().tolist(), "boxes": boxes})
    for box, crop in zip(boxes, page):
        assert np.array_equal(
            np.array(crop).reshape(48, 48), detect.crop_face(picture, box, 0.1, 0.15)
        )


def test_the_framers_input_and_frames_are_pythons(tmp_path):
    rng = np.random.default_rng(3)
    picture = cv2.GaussianBlur(rng.integers(0, 256, (120, 160), dtype=np.uint8), (0, 0), 2)
    # Inputs shrunk and grown, over the edges, and frames with half-pixel centres.
    boxes = [(30, 20, 60, 60), (-10, -5, 50, 70), (130, 90, 40, 45), (41, 33, 57, 56)]
    frames = [(0.18, 0.0, -0.1), (-0.05, 0.031, 0.02), (0.3, -0.2, 0.1), (0.0, 0.5 / 57, 0)]
    script = (
        "const src = {data: Uint8Array.from(data.picture), width: 160, height: 120};\n"
        "console.log(JSON.stringify(data.boxes.map((b, i) => ["
        "Array.from(faces.innerPatch(src, b, data.inner, data.input).data), "
        "Array.from(faces.cutSquare(src, faces.frameSquare(b, data.frames[i])).data)])));"
    )
    data = {"picture": picture.ravel().tolist(), "boxes": boxes, "frames": frames}
    page = node(tmp_path, script, {**data, "inner": framing.INNER, "input": framing.INPUT})
    for box, frame, (patch, crop) in zip(boxes, frames, page):
        size = framing.INPUT
        # Growing (boxes under INPUT / INNER pixels) rounds within one grey level, as in
        # test_area_resampling_is_opencvs.
        tolerance = 1 if framing.INNER * max(box[2:]) < size else 0
        python = framing.inner(picture, box).astype(int)
        assert np.abs(np.array(patch).reshape(size, size) - python).max() <= tolerance, box
        expected = detect.cut(picture, framing.frame_square(box, frame))
        assert np.array_equal(np.array(crop).reshape(48, 48), expected)


def made_up_outputs(runs, seed, silent=(), faint=()):
    """BlazeFace's raw outputs for `runs` runs: boxes of 20-60 pixels near every anchor,
    a few percent of them above the threshold (none in the runs numbered in silent, and
    in those in faint, none above it but some above a followed face's)."""
    rng = np.random.default_rng(seed)
    n = len(detect.anchors())
    raw = []
    for k in range(runs):
        boxes = np.zeros((1, n, 16), np.float32)
        boxes[0, :, :2] = rng.normal(0, 3, (n, 2))
        boxes[0, :, 2:4] = rng.uniform(20, 60, (n, 2))
        scores = rng.normal(-20 if k in silent else -6, 3, (1, n, 1)).astype(np.float32)
        if k in faint:  # scores between FOLLOW_SCORE and MIN_SCORE at most
            scores = np.minimum(scores, np.log(MIN_SCORE / (1 - MIN_SCORE)) - 0.1)
        raw.append((boxes, scores))
    return raw


class MadeUp(detect.BlazeFace):
    """BlazeFace with its network replaced by made-up outputs, the rest as it is."""

    def __init__(self, raw):
        self.model, self.anchors, self.calls = detect.BLAZEFACE, detect.anchors(), iter(raw)

    def _detect(self, gray, min_score=MIN_SCORE):
        side = max(gray.shape[:2])
        top, left = (side - gray.shape[0]) // 2, (side - gray.shape[1]) // 2
        b, s = detect.decode(*next(self.calls), self.anchors)
        found = s > min_score
        return b[found] * side - [left, top, left, top], s[found]


MODEL = detect.BLAZEFACE
SETTINGS = {"input": MODEL.input, "strides": MODEL.strides, "min_score": MODEL.min_score}
SETTINGS |= {"anchors_per_layer": MODEL.anchors_per_layer}
SETTINGS |= {"nms_iou": detect.NMS_IOU, "nms_within": detect.NMS_WITHIN}
SETTINGS |= {"follow_region": detect.FOLLOW_REGION}
SETTINGS |= {"follow_iou": detect.FOLLOW_IOU, "follow_score": detect.FOLLOW_SCORE}


def page_detector(tmp_path, raw, call):
    """What faces.js's Detector, fed the same made-up outputs, finds by `call` in a black
    640x360 picture."""
    script = (
        "let k = 0;\n"
        "const d = new faces.Detector(async () => data.raw[k++], data.settings);\n"
        "const picture = {data: new Uint8Array(640 * 360), width: 640, height: 360};\n"
        f"const found = await d.{call};\n"
        "console.log(JSON.stringify(found));"
    )
    flat = [{"boxes": b.ravel().tolist(), "scores": s.ravel().tolist()} for b, s in raw]
    return node(tmp_path, script, {"raw": flat, "settings": SETTINGS})


def test_boxes_decode_as_in_python(tmp_path):
    """Detector.detect on made-up network outputs: the same boxes, scores and order as
    BlazeFace.__call__, tiles of a wide picture included."""
    raw = made_up_outputs(3, seed=3)  # the whole picture and its two tiles
    python = MadeUp(raw)(np.zeros((360, 640), np.uint8))
    page = page_detector(tmp_path, raw, "detect(picture)")
    assert len(python) > 3
    assert [f["box"] for f in page] == [list(f.box) for f in python]
    assert np.allclose([f["score"] for f in page], [f.score for f in python], atol=1e-6)


def test_followed_faces_are_pythons(tmp_path):
    """Detector.follow on made-up outputs: the same faces as BlazeFace.follow, for a box
    inside, one over the edge (the square beyond it black), one larger than half the
    detector's input (its square shrunk), one whose run finds nothing near it and one
    found only at a followed face's lower threshold."""
    previous = [[300, 120, 80, 80], [-20, 250, 70, 90], [400, 40, 150, 140], [100, 100, 60, 60]]
    previous.append([500, 250, 50, 50])
    raw = made_up_outputs(5, seed=4, silent={3}, faint={4})
    python = MadeUp(raw).follow(np.zeros((360, 640), np.uint8), previous)
    page = page_detector(tmp_path, raw, f"follow(picture, {json.dumps(previous)})")
    assert 3 <= len(python) <= 4
    assert min(f.score for f in python) < MIN_SCORE
    assert [f["box"] for f in page] == [list(f.box) for f in python]
    assert np.allclose([f["score"] for f in page], [f.score for f in python], atol=1e-6)


class Scripted:
    """A detector whose calls, whole or follow, find as many faces as `counts` says."""

    def __init__(self, counts):
        self.counts, self.calls = iter(counts), []

    def _found(self, kind):
        self.calls.append(kind)
        return [detect.Face((10 * i, 0, 5, 5), 0.9) for i in range(next(self.counts))]

    def __call__(self, gray):
        return self._found("whole")

    def follow(self, gray, boxes):
        return self._found("follow")

    @staticmethod
    def runs(gray):
        return 3


def test_the_followers_calls_are_pythons(tmp_path):
    """faces.js's Follower calls its detector as detect.py's does: the whole frame every
    few frames, at once where a followed face is lost, where there is none to follow, and
    where following would take as many runs as a search."""
    counts = [2, 2, 1, 1, 1, 0, 0, 2, 2, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2]
    frames = 12
    python = Scripted(counts)
    follower = detect.Follower(python, every=3)
    for _ in range(frames):
        follower(None)
    script = (
        "let k = 0;\nconst calls = [];\n"
        "const found = (kind) => { calls.push(kind);\n"
        "  return Array.from({ length: data.counts[k++] }, (_, i) => "
        "({ box: [10 * i, 0, 5, 5], score: 0.9 })); };\n"
        "const detector = { detect: async () => found('whole'), "
        "follow: async () => found('follow'), runs: () => 3 };\n"
        "const follower = new faces.Follower(detector, 3);\n"
        "for (let i = 0; i < data.frames; i++) await follower.next(null);\n"
        "console.log(JSON.stringify(calls));"
    )
    page = node(tmp_path, script, {"counts": counts, "frames": frames})
    assert "follow" in python.calls and python.calls.count("whole") > frames // 3 + 1
    # Three faces found by a search: three runs to follow them, so the next is searched.
    after_three = [b for a, b, n in zip(python.calls, python.calls[1:], counts) if n == 3]
    assert "whole" in after_three and "follow" not in after_three[1:]
    assert page == python.calls
