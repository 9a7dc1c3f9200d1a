"""Faces in video files: frames decoded by OpenCV, faces found in each analysed frame,
followed across frames, and the faces of many frames classified in one batch.

Tracking is IoU matching with a motion allowance: each face's next box is predicted from
its last move, and a face may go unseen for a few analysed frames and keep its id.
There is no re-identification across cuts: a face that is lost for longer gets a new id.
"""

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ferkit.deploy.detect import iou
from ferkit.deploy.photos import annotate, faces_in_image
from ferkit.errors import InputError
from ferkit.evaluate import predict_probs
from ferkit.quiet import native_output_caught

VIDEO_SUFFIXES = {".mp4", ".avi", ".webm", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".wmv"}
# The annotated video's codec by its container; WebM plays in any browser.
CODECS = {".webm": "VP80", ".mp4": "mp4v", ".avi": "MJPG", ".mov": "mp4v", ".mkv": "VP80"}
# Frames whose faces go to the classifier together.
BATCH_FRAMES = 32


def is_video(path):
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass
class VideoInfo:
    """What OpenCV reads of a video file."""

    path: Path
    fps: float
    frames: int  # as the container states it; 0 where it does not
    width: int
    height: int


def open_video(path):
    """(cv2.VideoCapture, VideoInfo) of a video file, its first frame read back to check
    that it decodes; a missing, empty, folder, truncated or stream-less file is an
    InputError."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a folder, not a video file")
    if path.stat().st_size == 0:
        raise InputError(path, "is empty (0 bytes)")
    capture = cv2.VideoCapture(str(path))
    ok, frame = capture.read() if capture.isOpened() else (False, None)
    if not ok or frame is None:
        capture.release()
        raise InputError(path, "has no video stream OpenCV can decode (not a video, or truncated)")
    fps = capture.get(cv2.CAP_PROP_FPS)
    info = VideoInfo(
        path,
        fps if fps and fps > 0 else 25.0,
        max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))),
        frame.shape[1],
        frame.shape[0],
    )
    # Opened again rather than rewound: not every container seeks back exactly.
    capture.release()
    return cv2.VideoCapture(str(path)), info


@dataclass
class Track:
    id: int
    box: tuple
    step: tuple = (0.0, 0.0)  # the last move of the box's centre, per analysed frame
    missed: int = 0

    def predicted(self):
        """Where the box should be now, moving on as it last moved."""
        x, y, w, h = self.box
        ahead = self.missed + 1
        cx, cy = x + w / 2 + self.step[0] * ahead, y + h / 2 + self.step[1] * ahead
        return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


@dataclass
class Tracker:
    """Face ids across frames: each face goes to the live track whose predicted box it
    overlaps most (IoU at least min_iou), greedily, best pairs first. The motion
    allowance: a face that overlaps no prediction enough may still join a track whose
    predicted centre is within `allowance` of the box's size for every frame the track
    went unseen (a face that was hidden, or missed by the detector, and moved on). A
    track lives on for max_missed analysed frames without a face."""

    min_iou: float = 0.3
    max_missed: int = 10
    allowance: float = 0.25
    tracks: list = field(default_factory=list)
    next_id: int = 1

    def update(self, boxes):
        """The id of every box (x, y, w, h) of one analysed frame."""
        ids = [None] * len(boxes)
        corners = np.array([(x, y, x + w, y + h) for x, y, w, h in boxes], float).reshape(-1, 4)
        pairs = []
        for t, track in enumerate(self.tracks):
            predicted = np.array(track.predicted())
            overlaps = iou(predicted, corners)
            centre = (predicted[:2] + predicted[2:]) / 2
            reach = self.allowance * max(track.box[2:]) * (track.missed + 1)
            for b, overlap in enumerate(overlaps):
                distance = np.hypot(*((corners[b, :2] + corners[b, 2:]) / 2 - centre))
                if overlap >= self.min_iou:
                    pairs.append((overlap, t, b))
                elif distance <= reach:
                    # Below every overlapping pair, the nearer the better.
                    pairs.append((self.min_iou * (1 - distance / reach) - 1, t, b))
        used = set()
        for _, t, b in sorted(pairs, reverse=True):
            if t in used or ids[b] is not None:
                continue
            track, used = self.tracks[t], used | {t}
            ids[b] = track.id
            (x0, y0, w0, h0), (x, y, w, h) = track.box, boxes[b]
            move = ((x + w / 2 - x0 - w0 / 2), (y + h / 2 - y0 - h0 / 2))
            track.step = (move[0] / (track.missed + 1), move[1] / (track.missed + 1))
            track.box, track.missed = tuple(boxes[b]), 0
        for t, track in enumerate(self.tracks):
            if t not in used:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        for b, box in enumerate(boxes):
            if ids[b] is None:
                self.tracks.append(Track(self.next_id, tuple(box)))
                ids[b] = self.next_id
                self.next_id += 1
        return ids


def frames(capture, info, every=1, start=0.0, end=None):
    """(frame index, seconds, BGR frame) of every `every`th frame between start and end
    seconds."""
    first = int(round(start * info.fps))
    if first:
        capture.set(cv2.CAP_PROP_POS_FRAMES, first)
    index = first
    while True:
        seconds = index / info.fps
        if end is not None and seconds > end:
            return
        if (index - first) % every:
            if not capture.grab():
                return
        else:
            ok, frame = capture.read()
            if not ok:
                return
            yield index, seconds, frame
        index += 1


@dataclass
class FaceRow:
    frame: int
    seconds: float
    face: int
    box: tuple
    score: float | None
    probs: np.ndarray = None


def analyse(capture, info, model, detector, every=1, start=0.0, end=None, tta=False,
            tta_temperature=None, on_frames=None, progress=None):  # fmt: skip
    """Every face of every analysed frame, with its track id and class probabilities.

    Args:
        on_frames: called with [(frame index, frame, [FaceRow])] for each batch of frames,
            once their faces are classified (to annotate and write them).
        progress: called with the frames analysed so far, after each batch.

    Returns:
        [FaceRow], in frame order.
    """
    tracker, rows, buffer, done = Tracker(), [], [], 0

    def flush():
        nonlocal buffer, done
        faces = [r for _, _, found, _ in buffer for r in found]
        crops = np.concatenate([c for *_, c in buffer]) if faces else None
        # The faces of every frame of the batch in one call to the classifier.
        probs = (
            predict_probs(model, crops, tta=tta, tta_temperature=tta_temperature) if faces else []
        )
        for row, p in zip(faces, probs):
            row.probs = p
        rows.extend(faces)
        if on_frames:
            on_frames([(i, frame, found) for i, frame, found, _ in buffer])
        done += len(buffer)
        buffer = []
        if progress:
            progress(done)

    for index, seconds, frame in frames(capture, info, every, start, end):
        found, crops = faces_in_image(frame, detector)
        ids = tracker.update([f.box for f in found])
        face_rows = [FaceRow(index, seconds, i, f.box, f.score) for i, f in zip(ids, found)]
        buffer.append((index, frame, face_rows, crops))
        if len(buffer) == BATCH_FRAMES:
            flush()
    if buffer:
        flush()
    return rows


def table(rows, class_names):
    """faces.csv's rows: frame, time, face id, box, detector score, label, a probability
    column a class."""
    import pandas as pd

    columns = ["frame", "seconds", "face", "x", "y", "w", "h", "score", "label"]
    columns += [f"p_{c}" for c in class_names]
    records = [
        [r.frame, round(r.seconds, 3), r.face, *r.box]
        + [None if r.score is None else round(r.score, 4)]
        + [class_names[int(np.argmax(r.probs))]]
        + [round(float(p), 6) for p in r.probs]
        for r in rows
    ]
    return pd.DataFrame(records, columns=columns)


def summaries(frame_table, class_names):
    """One line a face: frames seen, dominant emotion, share of time per emotion."""
    lines = []
    for face, group in frame_table.groupby("face"):
        shares = group["label"].value_counts(normalize=True)
        dominant = shares.index[0]
        spread = ", ".join(f"{name} {shares.get(name, 0):.0%}" for name in class_names)
        lines.append(
            f"face {face}: {len(group)} frames ({group['seconds'].min():.1f}-"
            f"{group['seconds'].max():.1f} s), mostly {dominant}; {spread}"
        )
    return lines


def annotate_frame(frame, rows):
    """A copy of frame with each face's box, id, label and probability."""
    return annotate(frame, [r.box for r in rows], [r.probs for r in rows], [r.face for r in rows])


def video_writer(path, fps, width, height):
    """An OpenCV writer whose codec follows the file's container (WebM: VP8)."""
    codec = CODECS.get(Path(path).suffix.lower())
    if codec is None:
        raise InputError(path, f"unknown video container; use one of {', '.join(CODECS)}")
    # FFmpeg notes that WebM keeps no codec tag, and writes VP8 all the same.
    with native_output_caught():
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    if not writer.isOpened():
        raise InputError(path, f"this OpenCV cannot write {codec} video")
    return writer


class Progress:
    """A progress line on a terminal: frames, frames per second, time left."""

    def __init__(self, total, stream=sys.stderr):
        self.total, self.stream, self.start = total, stream, time.perf_counter()
        self.shown, self.done = stream.isatty(), 0

    def __call__(self, done):
        self.done = done
        if not self.shown:
            return
        rate = done / max(time.perf_counter() - self.start, 1e-9)
        left = f", {(self.total - done) / rate:.0f} s left" if self.total > done else ""
        of = f"/{self.total}" if self.total else ""
        self.stream.write(f"\r{done}{of} frames, {rate:.1f} frames/s{left}   ")
        self.stream.flush()

    def close(self):
        if self.shown:
            self.stream.write("\n")
