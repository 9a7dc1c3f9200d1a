"""predict.py on photos: detection, crops, annotated copies, per-face rows, bad files."""

import json

import cv2
import numpy as np
import pytest
from conftest import ROOT, needs_deploy

from ferkit.deploy.detect import CROPS, crop_face, grey, make_detector
from ferkit.deploy.photos import demo_image, faces_in_image, read_image
from ferkit.deploy.predict_cli import predict_main

MODEL = str(ROOT / "models" / "dnn.keras")


def test_demo_portrait_has_one_face(tmp_path, capsys):
    predict_main(["--demo", "--model", MODEL, "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "faces.json").read_text())
    assert len(rows) == 1 and rows[0]["image"].endswith("grace_hopper.jpg")
    probs = [
        rows[0][f"p_{c}"]
        for c in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    ]
    assert sum(probs) == pytest.approx(1, abs=1e-4) and rows[0]["probability"] == max(probs)
    csv = (tmp_path / "faces.csv").read_text().splitlines()
    assert csv[0].startswith("image,face,x,y,w,h,score,label,probability,p_angry")
    assert len(csv) == 2
    assert (tmp_path / "grace_hopper_annotated.jpg").stat().st_size > 10_000
    assert "face at" in capsys.readouterr().out


@pytest.mark.parametrize("detector", ["haar", pytest.param("blazeface", marks=needs_deploy)])
def test_crops_look_like_fer2013(detector):
    image = read_image(demo_image())
    faces, crops = faces_in_image(image, make_detector(detector))
    assert crops.shape == (1, 48, 48, 1) and crops.dtype == np.uint8
    x, y, w, h = faces[0].box
    assert 100 < w < 300 and abs(w - h) < 25  # the face, not the whole portrait
    assert (faces[0].score is None) == (detector == "haar")
    gray = image.mean(axis=2).astype(np.uint8)
    corner = crop_face(gray, (0, 0, 40, 40))  # a box at the border still gives 48x48
    assert corner.shape == (48, 48)


@pytest.mark.parametrize("detector", ["haar", pytest.param("blazeface", marks=needs_deploy)])
def test_a_margin_given_replaces_the_detectors_and_keeps_its_rise(detector):
    image = read_image(demo_image())
    wide = make_detector(detector, margin=0.5)
    assert wide.crop.margin == 0.5 and wide.crop.rise == CROPS[detector].rise
    faces, tight = faces_in_image(image, make_detector(detector))
    _, loose = faces_in_image(image, wide)
    expected = crop_face(grey(image), faces[0].box, 0.5, CROPS[detector].rise)
    np.testing.assert_array_equal(loose[0, :, :, 0], expected)
    # The wider crop shows more around the face: the same face, smaller in the crop.
    assert np.abs(loose.astype(int) - tight).mean() > 5


def test_no_face_and_bad_files(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "blank.png"), np.full((120, 160, 3), 128, np.uint8))
    cv2.imwrite(str(folder / "portrait.jpg"), read_image(demo_image()))
    (tmp_path / "notes.jpg").write_text("not an image")
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as code:
        predict_main(
            [str(folder), str(tmp_path / "notes.jpg"), "--model", MODEL, "--out", str(out)]
        )
    assert code.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == f"error: {tmp_path / 'notes.jpg'}: not a readable image"
    assert "blank.png: no face found" in captured.out
    rows = json.loads((out / "faces.json").read_text())
    assert [r["image"].rsplit("/", 1)[1] for r in rows] == ["portrait.jpg"]
    assert (out / "blank_annotated.png").exists() and (out / "portrait_annotated.jpg").exists()


@pytest.mark.parametrize(
    ("argv", "task", "model"),
    [
        ([], "faces", "models/cnn.keras"),
        (["--demo"], "photos", "models/best.keras"),
        (["--webcam"], "webcam", "models/small.keras"),
        (["--video", "clip.mp4"], "video", "models/small.keras"),
    ],
)
def test_default_model_follows_the_task(monkeypatch, capsys, argv, task, model):
    """The submission keeps the reference CNN, photos get the most accurate model and the
    webcam the compact one (and says so); all three ship."""
    from ferkit.deploy import predict_cli

    seen = {}
    monkeypatch.setattr(predict_cli, "_load", lambda path: path)
    monkeypatch.setattr(predict_cli, "predict_dataset", lambda args: seen.update(faces=args.model))
    monkeypatch.setattr(predict_cli, "predict_photos", lambda args, m: seen.update(photos=m))
    monkeypatch.setattr(predict_cli, "webcam", lambda m, args: seen.update(webcam=m))
    monkeypatch.setattr(predict_cli, "predict_video", lambda args, m: seen.update(video=m))
    monkeypatch.setattr(predict_cli, "open_video", lambda path: (cv2.VideoCapture(), None))
    predict_main(argv)
    assert seen == {task: model}
    assert ("the compact model" in capsys.readouterr().out) == (task in ("webcam", "video"))
    assert (ROOT / model).exists()
