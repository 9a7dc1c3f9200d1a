"""Following faces from frame to frame: BlazeFace re-finds a face near its last box and
drops one that is gone; a Follower searches the whole frame every few frames."""

import numpy as np
import pytest
from conftest import needs_deploy

from ferkit.deploy.detect import Crop, Face, Follower, grey, iou, make_detector
from ferkit.deploy.photos import demo_image, read_image


def corners(box):
    x, y, w, h = box
    return np.array([x, y, x + w, y + h], float)


@needs_deploy
def test_a_face_is_refound_near_its_last_box_and_a_lost_one_dropped():
    gray = grey(read_image(demo_image()))
    detector = make_detector("blazeface")
    (face,) = detector(gray)
    x, y, w, h = face.box
    moved = (x + 12, y - 8, w, h)  # where it was a frame before
    (again,) = detector.follow(gray, [moved])
    assert iou(corners(again.box), corners(face.box)[None])[0] > 0.9
    assert again.score > 0.5
    assert detector.follow(gray, [(0, gray.shape[0] - 60, 50, 50)]) == []
    # Two boxes on the same face give it once.
    assert len(detector.follow(gray, [face.box, moved])) == 1


class Whole:
    """A detector that cannot follow (as Haar), and says how often it was called."""

    def __init__(self):
        self.calls, self.found = [], [Face((10, 10, 20, 20), 0.9)]

    def __call__(self, gray):
        self.calls.append("whole")
        return self.found


class Counting(Whole):
    """A detector that follows too, and says how it was called."""

    def follow(self, gray, boxes):
        self.calls.append("follow")
        self.followed = boxes
        return self.found


def test_the_whole_frame_is_searched_every_few_frames_and_when_no_face_is_followed():
    detector = Counting()
    follower = Follower(detector, every=3)
    for _ in range(7):
        follower(None)
    assert detector.calls == ["whole", "follow", "follow"] * 2 + ["whole"]
    assert detector.followed == [(10, 10, 20, 20)]  # the boxes of the frame before
    detector.found = []
    follower(None), follower(None)
    # The face lost: the same frame searched whole, and the next, with nothing to follow.
    assert detector.calls[-3:] == ["follow", "whole", "whole"]


def test_faces_as_many_as_a_searchs_runs_are_searched_for_not_followed():
    detector = Counting()
    detector.runs = lambda gray: 2  # the frame and one tile, say
    follower = Follower(detector, every=5)
    follower(None), follower(None)
    assert detector.calls == ["whole", "follow"]  # one face: one run instead of two
    detector.found = detector.found * 2
    for _ in range(3):
        follower(None)
    # The second face appears (the follow finds two, so the frame is searched); then
    # following two faces would cost the two runs of the search, which finds new ones.
    assert detector.calls[2:] == ["follow", "whole", "whole", "whole"]


@pytest.mark.parametrize("every", [1, 5])
def test_a_detector_that_cannot_follow_searches_every_frame(every):
    detector = Whole()
    follower = Follower(detector, every=every)
    for _ in range(4):
        follower(None)
    assert detector.calls == ["whole"] * 4


def test_the_webcam_follows_its_faces(monkeypatch):
    """predict.py --webcam follows a camera's faces between searches, as the page does."""
    from types import SimpleNamespace

    from ferkit.deploy import predict_cli

    frames = [np.full((60, 80, 3), 128, np.uint8) for _ in range(4)]

    class Camera:
        def isOpened(self):
            return True

        def read(self):
            return (True, frames.pop()) if frames else (False, None)

        def release(self):
            pass

    detector = Counting()
    detector.crop = Crop()
    monkeypatch.setattr(predict_cli.cv2, "VideoCapture", lambda index: Camera())
    monkeypatch.setattr(predict_cli.cv2, "imshow", lambda *a: None)
    monkeypatch.setattr(predict_cli.cv2, "waitKey", lambda delay: -1)
    monkeypatch.setattr(predict_cli.cv2, "destroyAllWindows", lambda: None)
    monkeypatch.setattr(predict_cli, "make_detector", lambda name, margin=None: detector)
    monkeypatch.setattr(predict_cli, "_probs", lambda model, crops, args: np.full((1, 7), 1 / 7))
    predict_cli.webcam(None, SimpleNamespace(detector="blazeface", margin=0.1))
    assert detector.calls == ["whole", "follow", "follow", "follow"]
