"""predict.py --video: a table of every face of every analysed frame, an annotated video,
an emotion-over-time plot a face, and a one-line summary a face."""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ferkit import class_names_for
from ferkit.deploy.detect import Follower, make_detector
from ferkit.deploy.video import (
    Progress,
    analyse,
    annotate_frame,
    open_video,
    summaries,
    table,
    video_writer,
)
from ferkit.errors import InputError
from ferkit.plotting import plot_emotion_track, plt
from ferkit.runs import atomic_write_text

# The plot's moving average spans about this many seconds of analysed frames.
SMOOTHING_SECONDS = 0.5


def check_video_args(args):
    """The video flags' own checks, before anything is read or written."""
    if args.every < 1:
        raise InputError("--every", f"must be at least 1 (got {args.every})")
    if args.search < 1:
        raise InputError("--search", f"must be at least 1 (got {args.search})")
    if args.start < 0:
        raise InputError("--start", f"must not be negative (got {args.start})")
    if args.end is not None and args.end <= args.start:
        raise InputError("--end", f"must be after --start ({args.end} <= {args.start})")


def predict_video(args, model):
    """Analyses args.video with model; writes into args.out (default predictions/).
    args.margin, where given, replaces the detector's crop margin."""
    check_video_args(args)
    capture, info = open_video(args.video)
    names = class_names_for(model.output_shape[-1])
    detector = Follower(make_detector(args.detector, margin=args.margin), args.search)
    out = Path(args.out or "predictions")
    stem = info.path.stem
    annotated = Path(args.annotated or out / f"{stem}_annotated.webm")
    # Written under a scratch name and renamed when complete: nothing half-written.
    scratch = annotated.with_name(f".{annotated.stem}.tmp{annotated.suffix}")
    writer, pending = None, None
    fps = info.fps / args.every
    # The annotated frames are encoded on a thread of their own, a batch behind the
    # detector and the classifier, which OpenCV's encoder leaves the interpreter to.
    encoder = ThreadPoolExecutor(max_workers=1)

    def encode(batch):
        for _, frame, rows in batch:
            writer.write(annotate_frame(frame, rows))

    def write(batch):
        nonlocal writer, pending
        if writer is None:
            annotated.parent.mkdir(parents=True, exist_ok=True)
            writer = video_writer(scratch, fps, info.width, info.height)
        if pending is not None:
            pending.result()
        pending = encoder.submit(encode, batch)

    progress = Progress(expected_frames(info, args))
    try:
        rows = analyse(
            capture, info, model, detector, args.every, args.start, args.end,
            args.tta, args.tta_temperature, on_frames=write, progress=progress,
        )  # fmt: skip
        if pending is not None:
            pending.result()
    except BaseException:
        encoder.shutdown(cancel_futures=True)
        if writer is not None:
            writer.release()
        scratch.unlink(missing_ok=True)
        raise
    finally:
        encoder.shutdown()
        capture.release()
        progress.close()
    if writer is not None:
        writer.release()
        os.replace(scratch, annotated)
    frame_table = table(rows, names)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "faces.csv", frame_table.to_csv(index=False))
    analysed = progress.done
    if not rows:
        print(f"{info.path}: no face found in {analysed} analysed frames")
    for face, group in frame_table.groupby("face"):
        window = max(1, round(SMOOTHING_SECONDS * fps))
        probs = group[[f"p_{c}" for c in names]].to_numpy()
        fig = plot_emotion_track(
            group["seconds"].to_numpy(), probs, names, f"{stem}: face {face}", window
        )
        fig.savefig(out / f"{stem}_face{face}.png", dpi=100)
        plt.close(fig)
    for line in summaries(frame_table, names):
        print(line)
    wrote = f"wrote {out}/faces.csv ({len(rows)} rows)"
    if writer is not None:
        wrote += f", {annotated} ({analysed} frames at {fps:.3g} frames/s)"
    print(wrote + (f" and {frame_table['face'].nunique()} plot(s)" if rows else ""))
    return frame_table


def expected_frames(info, args):
    """How many frames the analysis will read (0 where the container gives no count)."""
    if not info.frames:
        return 0
    first = int(round(args.start * info.fps))
    last = info.frames if args.end is None else min(info.frames, int(args.end * info.fps) + 1)
    return max(0, int(np.ceil((last - first) / args.every)))
