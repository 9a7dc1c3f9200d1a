"""predict.py --video: known faces drifting through a generated clip keep their ids, boxes
and labels; bad files stop with one line; a clip without faces gives an empty table."""

import wave

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, needs_deploy, needs_shared

from ferkit.deploy.detect import make_detector
from ferkit.deploy.predict_cli import predict_main
from ferkit.deploy.video import Tracker
from ferkit.evaluate import predict_probs
from ferkit.record import load_run

MODEL = ROOT / "models" / "fast.keras"
W, H, FRAMES, SIDE = 640, 360, 24, 120
GONE = range(10, 14)  # the frames where face B is out of the picture


def test_a_face_keeps_its_id_through_a_gap_and_a_new_face_gets_a_new_one():
    tracker = Tracker(max_missed=3)
    assert tracker.update([(100, 100, 50, 50), (300, 100, 50, 50)]) == [1, 2]
    assert tracker.update([(106, 100, 50, 50)]) == [1]  # 2 unseen
    assert tracker.update([(112, 100, 50, 50), (302, 101, 50, 50)]) == [1, 2]
    for _ in range(4):
        tracker.update([])
    assert tracker.update([(130, 100, 50, 50)]) == [3]  # lost for too long


def placements(frame):
    """Where faces A and B are in a frame: (x, y) of their top-left corners, or None."""
    a = (60 + 4 * frame, 80)
    b = None if frame in GONE else (420, 40 + 3 * frame)
    return a, b


def frame_of(faces, i):
    """Frame i of the clip: the faces (48x48 uint8 each, scaled to SIDE, None to leave
    one out) where placements() puts them, on a grey gradient."""
    frame = np.tile(np.linspace(70, 150, W, dtype=np.uint8), (H, 1))
    for face, at in zip(faces, placements(i)):
        if face is not None and at is not None:
            big = cv2.resize(face, (SIDE, SIDE), interpolation=cv2.INTER_CUBIC)
            frame[at[1] : at[1] + SIDE, at[0] : at[0] + SIDE] = big
    return frame


def write_clip(path, faces, frames=FRAMES):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (W, H))
    for i in range(frames):
        writer.write(cv2.cvtColor(frame_of(faces, i), cv2.COLOR_GRAY2BGR))
    writer.release()


@pytest.fixture(scope="module")
def known_faces(shared_data):
    """Two public test faces that BlazeFace finds all along their paths (each alone, at
    every fourth frame), so that every frame's rows are known, and that the model labels
    clearly (its top class 0.3 above the next), so that a crop's framing, a few pixels
    off FER2013's, does not turn the label."""
    detector = make_detector("blazeface")
    found = {0: None, 1: None}
    faces = shared_data().x_test[:300, :, :, 0]
    probs = np.sort(predict_probs(load_run(MODEL)[0], faces[..., None]), axis=1)
    for face in faces[probs[:, -1] - probs[:, -2] >= 0.3]:
        for slot in (s for s in found if found[s] is None):
            placed = [face if s == slot else None for s in found]
            frames = [i for i in range(0, FRAMES, 4) if placements(i)[slot] is not None]
            if all(any(f.score > 0.7 for f in detector(frame_of(placed, i))) for i in frames):
                found[slot] = face
                break
        if all(f is not None for f in found.values()):
            return [found[0], found[1]]
    pytest.skip("no two public faces that BlazeFace finds all along their paths")


@needs_shared
@needs_deploy
@pytest.mark.slow
def test_two_faces_drift_through_a_clip(tmp_path, known_faces, capsys):
    clip = tmp_path / "clip.mp4"
    write_clip(clip, known_faces)
    out = tmp_path / "out"
    argv = ["--video", str(clip), "--model", str(MODEL), "--out", str(out)]
    predict_main(argv + ["--detector", "blazeface"])
    rows = pd.read_csv(out / "faces.csv")
    model, record = load_run(MODEL)
    names = record["class_names"]
    assert list(rows.columns[:9]) == ["frame", "seconds", "face", "x", "y", "w", "h", "score"] + [
        "label"
    ]
    assert [c[2:] for c in rows.columns[9:]] == names
    # Each face is one id, B's the same before and after it left the picture.
    assert rows["face"].nunique() == 2
    expected = {"A": FRAMES, "B": FRAMES - len(GONE)}
    ids = {}
    for _, row in rows.iterrows():
        a, b = placements(int(row["frame"]))
        near_a = abs(row["x"] - a[0]) < SIDE / 2
        key = "A" if near_a else "B"
        at = a if key == "A" else b
        assert at is not None, f"a face where none was in frame {row['frame']}"
        ids.setdefault(key, set()).add(row["face"])
        # The box is where the face was put, within a quarter of its side.
        box_centre = (row["x"] + row["w"] / 2, row["y"] + row["h"] / 2)
        assert abs(box_centre[0] - at[0] - SIDE / 2) < SIDE / 4
        assert abs(box_centre[1] - at[1] - SIDE / 2) < SIDE / 4
        assert SIDE * 0.6 < row["w"] < SIDE * 1.4
    assert all(len(v) == 1 for v in ids.values()) and ids["A"] != ids["B"]
    # A row for a face in most frames where it is in the picture: BlazeFace misses an
    # upscaled 48x48 face in a compressed frame now and then, and the id holds through.
    counts = rows.groupby("face").size()
    for key in "AB":
        assert expected[key] * 0.8 <= counts[next(iter(ids[key]))] <= expected[key]
    # Each face's label is the model's on that face's own crop, in most frames.
    own = predict_probs(model, np.stack(known_faces)[..., None]).argmax(axis=1)
    for key, face in zip("AB", own):
        labels = rows.loc[rows["face"] == next(iter(ids[key])), "label"]
        assert (labels == names[face]).mean() >= 0.8
    video = cv2.VideoCapture(str(out / "clip_annotated.webm"))
    n = 0
    while video.read()[0]:
        n += 1
    assert n == FRAMES
    assert (out / f"clip_face{next(iter(ids['A']))}.png").read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert printed.count(" frames (") == 2 and "mostly" in printed


@needs_shared
@needs_deploy
@pytest.mark.slow
def test_following_between_searches_takes_fewer_detector_runs(tmp_path, known_faces):
    """--search 10: the faces of the frames between searches are followed near their last
    boxes. A, always in the picture, keeps its rows and labels in every frame; B, back
    from its gap, is found again at a search, at most 9 frames after it came back."""
    from ferkit.deploy.detect import BlazeFace

    clip = tmp_path / "clip.mp4"
    write_clip(clip, known_faces)
    runs, detect = [], BlazeFace._detect

    def counted(self, *a, **k):
        runs.append(1)
        return detect(self, *a, **k)

    tables = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BlazeFace, "_detect", counted)
        for search in (1, 10):
            runs.clear()
            out = tmp_path / f"out{search}"
            argv = ["--video", str(clip), "--model", str(MODEL), "--out", str(out)]
            predict_main(argv + ["--detector", "blazeface", "--search", str(search)])
            tables[search] = (pd.read_csv(out / "faces.csv"), len(runs))
    (every, searched), (followed, fewer) = tables[1], tables[10]
    assert fewer < 0.7 * searched
    a = {k: t[t["x"] < 320].set_index("frame") for k, t in ((1, every), (10, followed))}
    assert a[10].index.tolist() == a[1].index.tolist() and a[10]["face"].nunique() == 1
    assert (a[10]["label"] == a[1]["label"]).mean() >= 0.8
    assert np.abs(a[10]["x"] - a[1]["x"]).max() < SIDE / 4
    b = followed[followed["x"] >= 320]
    back = b.loc[b["frame"] >= GONE.stop, "frame"]
    assert b["face"].nunique() == 1 and GONE.stop <= back.min() <= GONE.stop + 9


def test_every_nth_frame_and_a_time_window(tmp_path):
    clip = tmp_path / "blank.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(30):
        writer.write(np.full((120, 160, 3), 100 + i, np.uint8))
    writer.release()
    out = tmp_path / "out"
    argv = ["--video", str(clip), "--model", str(MODEL), "--out", str(out), "--every", "3"]
    predict_main(argv + ["--start", "1", "--end", "2.5", "--detector", "haar"])
    video = cv2.VideoCapture(str(out / "blank_annotated.webm"))
    n = 0
    while video.read()[0]:
        n += 1
    assert n == 6  # frames 10, 13, 16, 19, 22 and 25: 1 to 2.5 seconds at 10 frames/s


def test_a_clip_without_faces_gives_an_empty_table(tmp_path, capsys):
    clip = tmp_path / "empty.mp4"
    write_clip(clip, [], frames=5)
    out = tmp_path / "out"
    predict_main(["--video", str(clip), "--model", str(MODEL), "--out", str(out)])
    table = (out / "faces.csv").read_text().splitlines()
    assert len(table) == 1 and table[0].startswith("frame,seconds,face,x,y,w,h,score,label,")
    assert "no face found in 5 analysed frames" in capsys.readouterr().out


def _bad_inputs(tmp_path):
    good = tmp_path / "good.mp4"
    write_clip(good, [], frames=20)
    data = good.read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_text("not a video at all\n" * 50)
    (tmp_path / "folder.mp4").mkdir()
    with wave.open(str(tmp_path / "sound.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(np.zeros(8000, np.int16).tobytes())
    return {
        "truncated.mp4": "has no video stream",
        "empty.mp4": "is empty (0 bytes)",
        "notes.mp4": "has no video stream",
        "folder.mp4": "is a folder, not a video file",
        "sound.wav": "has no video stream",
    }


def test_bad_video_files_stop_with_one_line_and_write_nothing(tmp_path, capsys):
    for name, problem in _bad_inputs(tmp_path).items():
        out = tmp_path / f"out-{name}"
        with pytest.raises(SystemExit) as code:
            predict_main(
                ["--video", str(tmp_path / name), "--model", str(MODEL), "--out", str(out)]
            )
        err = capsys.readouterr().err
        assert code.value.code == 2 and len(err.strip().splitlines()) == 1, name
        assert err.startswith(f"error: {tmp_path / name}: {problem}"), err
        assert not out.exists()
    with pytest.raises(SystemExit) as code:
        out = tmp_path / "out-every"
        predict_main(["--video", str(tmp_path / "good.mp4"), "--every", "0", "--out", str(out)])
    assert code.value.code == 2 and not out.exists()
    assert capsys.readouterr().err.strip() == "error: --every: must be at least 1 (got 0)"
    with pytest.raises(SystemExit) as code:
        out = tmp_path / "out-search"
        predict_main(["--video", str(tmp_path / "good.mp4"), "--search", "0", "--out", str(out)])
    assert code.value.code == 2 and not out.exists()
    assert capsys.readouterr().err.strip() == "error: --search: must be at least 1 (got 0)"


@needs_deploy
def test_an_exported_model_analyses_a_video_without_tensorflow(tmp_path):
    """The video path with an .onnx model and BlazeFace on LiteRT, in a fresh Python."""
    import subprocess
    import sys

    from ferkit.deploy.export import export_onnx
    from ferkit.runs import load_model

    export_onnx(load_model(MODEL), tmp_path / "fast.onnx")
    clip = tmp_path / "empty.mp4"
    write_clip(clip, [], frames=3)
    code = (
        "import sys\n"
        "from ferkit.deploy.predict_cli import predict_main\n"
        "predict_main(sys.argv[1:])\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'\n"
    )
    argv = ["--video", str(clip), "--model", str(tmp_path / "fast.onnx")]
    done = subprocess.run(
        [sys.executable, "-c", code, *argv, "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out" / "faces.csv").exists()
