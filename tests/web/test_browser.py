"""The page of `python -m ferkit.web` in a real browser (Debian's Chromium, driven by
Playwright): a photo and the fake camera give Python's boxes, labels and probabilities;
no request leaves 127.0.0.1; a refused or missing camera gets a plain message."""

import functools
import http.server
import importlib.util
import shutil
import threading
from urllib.parse import urlparse

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, needs_deploy, needs_shared

from ferkit.deploy.detect import REDETECT, make_detector
from ferkit.deploy.photos import faces_in_image
from ferkit.deploy.predict_cli import predict_main
from ferkit.evaluate import predict_probs
from ferkit.runs import load_model
from ferkit.web.__main__ import Handler
from ferkit.web.site import RUNTIME, build_site

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MODEL = ROOT / "models" / "small.keras"
W, H = 640, 360
PLACES = [(60, 70, 150), (360, 90, 180)]  # x, y and side of each face in the picture

pytestmark = [
    needs_shared,
    needs_deploy,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium is absent (Debian: apt install chromium)"
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="Playwright is absent (pip install -r requirements.txt)",
    ),
    pytest.mark.skipif(
        not RUNTIME.exists(),
        reason=f"ONNX Runtime Web is absent: run `npm ci` in {RUNTIME.parents[1]}",
    ),
]


def picture(faces):
    """A 640x360 BGR picture: the faces (48x48 grey) scaled up where PLACES puts them, on
    a grey gradient."""
    grey = np.tile(np.linspace(70, 150, W, dtype=np.uint8), (H, 1))
    for face, (x, y, side) in zip(faces, PLACES):
        grey[y : y + side, x : x + side] = cv2.resize(
            face, (side, side), interpolation=cv2.INTER_CUBIC
        )
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


@pytest.fixture(scope="module")
def known_faces(shared_data):
    """Two public test faces that BlazeFace finds, each alone where PLACES puts it."""
    detector, found = make_detector("blazeface"), []
    for face in shared_data().x_test[:200, :, :, 0]:
        slot = len(found)
        alone = [face if k == slot else np.full((48, 48), 110, np.uint8) for k in range(2)]
        faces = detector(cv2.cvtColor(picture(alone), cv2.COLOR_BGR2GRAY))
        if len(faces) == 1 and faces[0].score > 0.7:
            found.append(face)
            if len(found) == 2:
                return found
    pytest.skip("no two public faces that BlazeFace finds")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_site(MODEL, tmp_path_factory.mktemp("web") / "site")


@pytest.fixture(scope="module")
def url(site):
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def write_y4m(path, image, frames=5):
    """A clip of one still picture as Chromium's fake camera reads it (YUV 4:2:0)."""
    yuv = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{W} H{H} F15:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + yuv.tobytes())


@pytest.fixture(scope="module")
def browsers(tmp_path_factory, known_faces):
    """launch(camera=True): Chromium with a fake camera that films picture(known_faces);
    camera=False: Chromium that sees no camera at all."""
    from playwright.sync_api import sync_playwright

    clip = tmp_path_factory.mktemp("camera") / "faces.y4m"
    write_y4m(clip, picture(known_faces))
    fake = ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={clip}"]
    launched = []
    with sync_playwright() as playwright:

        def launch(camera=True):
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=fake if camera else []
            )
            launched.append(browser)
            return browser

        yield launch
        for browser in launched:
            browser.close()


class Visit:
    """A page in a fresh context: every request that is not to 127.0.0.1 is blocked and
    kept, and so is every console error and uncaught exception."""

    def __init__(self, browser, url, **context):
        self.outside, self.errors = [], []
        self.context = browser.new_context(**context)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)
        self.page.wait_for_function("window.ferkit && window.ferkit.ready", timeout=60_000)

    def _route(self, route):
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def evaluate(self, script):
        return self.page.evaluate(script)


class Near:
    """A detector re-finding faces near given boxes, as a camera's are followed."""

    def __init__(self, detector, boxes):
        self.detector, self.boxes, self.crop = detector, boxes, detector.crop

    def __call__(self, gray):
        return self.detector.follow(gray, self.boxes)


def python_faces(image, followed=None):
    """(boxes, probabilities) of Python's path: BlazeFace, the crop, the model in float32;
    with `followed`, the faces re-found near those boxes, as a camera's are."""
    detector = make_detector("blazeface")
    if followed is not None:
        detector = Near(detector, [tuple(b) for b in followed])
    faces, crops = faces_in_image(image, detector)
    return [list(f.box) for f in faces], predict_probs(load_model(MODEL), crops)


def test_a_photo_gets_predict_pys_boxes_labels_and_probabilities(
    browsers, url, known_faces, tmp_path
):
    photo = tmp_path / "two faces.png"
    cv2.imwrite(str(photo), picture(known_faces))
    table = tmp_path / "faces.csv"
    predict_main(
        [
            "--model",
            str(MODEL),
            str(photo),
            "--out",
            str(tmp_path / "out"),
            "--faces-csv",
            str(table),
        ]
    )
    rows = pd.read_csv(table)
    visit = Visit(browsers(), url)
    visit.page.set_input_files("#photo", str(photo))
    visit.page.wait_for_function("window.ferkit.last && window.ferkit.last.source === 'photo'")
    faces = visit.evaluate("window.ferkit.last.faces")
    assert len(faces) == len(rows) == 2
    names = [c[2:] for c in rows.columns if c.startswith("p_")]
    for face, (_, row) in zip(faces, rows.iterrows()):
        assert face["box"] == [row["x"], row["y"], row["w"], row["h"]]
        assert face["label"] == row["label"]
        assert (
            np.abs(np.array(face["probs"]) - row[[f"p_{n}" for n in names]].to_numpy(float)).max()
            < 1e-3
        )
    # The list beside the picture: a card a face, its label, a bar a class.
    assert visit.page.locator(".face").evaluate_all("l => l.map(e => e.dataset.label)") == list(
        rows["label"]
    )
    assert visit.page.locator(".face .bar").count() == 2 * len(names)
    assert "Model small: 7 classes" in visit.page.inner_text("#model")
    assert visit.outside == [] and visit.errors == []


def test_the_camera_shows_boxes_with_pythons_labels_for_the_frames_it_read(
    browsers, url, known_faces
):
    visit = Visit(browsers(), url, permissions=["camera"])
    visit.page.click("#camera")
    visit.page.wait_for_function("window.ferkit.frames >= 3", timeout=60_000)
    visit.page.click("#pause")
    visit.page.wait_for_timeout(500)  # the frame in hand is finished
    seen = visit.evaluate(
        "({faces: ferkit.last.faces, source: ferkit.last.source, frames: ferkit.frames, "
        "followed: ferkit.last.followed, rgba: Array.from(ferkit.lastFrame.data)})"
    )
    visit.page.wait_for_timeout(300)
    assert visit.evaluate("ferkit.frames") == seen["frames"], "the page read on after Pause"
    frame = np.array(seen["rgba"], np.uint8).reshape(H, W, 4)[..., 2::-1].copy()  # to BGR
    # The frame is the clip's, through the camera's YUV 4:2:0.
    assert np.abs(frame.astype(int) - picture(known_faces)).mean() < 3
    # A camera's faces are followed from the frame before, the whole frame searched
    # every REDETECT frames (and where a face was lost); Python does the same from the
    # same boxes.
    assert seen["followed"] is None or (seen["frames"] - 1) % REDETECT != 0
    boxes, probs = python_faces(frame, seen["followed"])
    assert seen["source"] == "camera" and len(seen["faces"]) == len(boxes) == 2
    assert [f["box"] for f in seen["faces"]] == boxes
    assert np.abs(np.array([f["probs"] for f in seen["faces"]]) - probs).max() < 1e-3
    # The boxes are drawn: the top edge of the first box in its colour (#ffc800).
    x, y, w, _ = boxes[0]
    view = "document.getElementById('view').getContext('2d')"
    pixel = visit.evaluate(f"Array.from({view}.getImageData({x + w // 2}, {y}, 1, 1).data)")
    assert pixel[:3] == [255, 200, 0]
    assert visit.outside == [] and visit.errors == []


def test_a_refused_camera_gets_a_message_and_no_console_error(browsers, url):
    visit = Visit(browsers(), url)  # no permission: Chromium refuses the camera
    visit.page.click("#camera")
    visit.page.wait_for_selector("#message:not([hidden])")
    assert "camera was refused" in visit.page.inner_text("#message")
    assert visit.evaluate("ferkit.frames") == 0 and not visit.page.is_disabled("#camera")
    assert visit.outside == [] and visit.errors == []


def test_no_camera_gets_a_message(browsers, url):
    visit = Visit(browsers(camera=False), url, permissions=["camera"])
    visit.page.click("#camera")
    visit.page.wait_for_selector("#message:not([hidden])")
    assert "No camera was found" in visit.page.inner_text("#message")
    assert visit.errors == []


def test_the_page_fits_a_phone(browsers, url, known_faces, tmp_path):
    photo = tmp_path / "faces.png"
    cv2.imwrite(str(photo), picture(known_faces))
    visit = Visit(browsers(), url, viewport={"width": 390, "height": 844})
    visit.page.set_input_files("#photo", str(photo))
    visit.page.wait_for_function("window.ferkit.last && window.ferkit.last.source === 'photo'")
    assert visit.evaluate("document.documentElement.scrollWidth") <= 390
    assert visit.evaluate("document.getElementById('view').getBoundingClientRect().width") <= 390
