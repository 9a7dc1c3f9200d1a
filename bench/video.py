"""Frames per second of predict.py --video end to end: decode, detect, classify, annotate
and encode, at 640x360, with one and with four faces, for each detector, with fast and
small on onnxruntime.

The clip is generated: public test faces drifting over a grey gradient, 150 frames. The
run with four faces, BlazeFace and small also gives the README its still of the annotated
video and a face's plot (figures/video_still.png, figures/video_face.png).
Usage: python bench/video.py [--frames 150] [--repeats 3]
"""

import argparse
import contextlib
import io
import json
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from report import RESULTS, default_data, publish

from ferkit.data import load_data
from ferkit.deploy.predict_cli import predict_main
from ferkit.machine import describe
from ferkit.quiet import import_tensorflow_quietly

ROOT = Path(__file__).resolve().parents[1]
W, H, SIDE = 640, 360, 110


def clip_frames(faces, frames, side=SIDE):
    """The clip's frames, BGR 640x360: faces (48x48 each, shown side pixels wide) drifting
    over a grey gradient."""
    background = np.tile(np.linspace(70, 150, W, dtype=np.uint8), (H, 1))
    big = [cv2.resize(f, (side, side), interpolation=cv2.INTER_CUBIC) for f in faces]
    slots = [(20, 20), (330, 20), (20, 220), (330, 220)]
    for i in range(frames):
        frame = background.copy()
        for face, (x, y) in zip(big, slots):
            x += int(40 * np.sin(i / 20))
            frame[y : y + side, x + 100 : x + 100 + side] = face[: H - y, :]
        yield cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


def write_clip(path, faces, frames):
    """clip_frames() as an mp4 at 25 frames/s."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (W, H))
    for frame in clip_frames(faces, frames):
        writer.write(frame)
    writer.release()


def readme_figures(out, stem, frame=60):
    """A still of the annotated video and the first face's plot, for the README."""
    figures = ROOT / "figures"
    video = cv2.VideoCapture(str(out / f"{stem}_annotated.webm"))
    video.set(cv2.CAP_PROP_POS_FRAMES, frame)
    ok, still = video.read()
    if ok:
        cv2.imwrite(str(figures / "video_still.png"), still)
    shutil.copyfile(out / f"{stem}_face1.png", figures / "video_face.png")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=default_data())
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--repeats", type=int, default=3, help="runs a row; its median is shown")
    args = p.parse_args(argv)
    import_tensorflow_quietly()
    from ferkit.deploy.export import export_onnx
    from ferkit.runs import load_model

    faces = load_data(args.data).x_test[:4, :, :, 0]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        for name in ("fast", "small"):
            export_onnx(load_model(ROOT / "models" / f"{name}.keras"), scratch / f"{name}.onnx")
        for n_faces in (1, 4):
            clip = scratch / f"clip{n_faces}.mp4"
            write_clip(clip, faces[:n_faces], args.frames)
            for detector, search in (("blazeface", 1), ("blazeface", 10), ("haar", 1)):
                for name in ("fast", "small"):
                    argv = ["--video", str(clip), "--model", str(scratch / f"{name}.onnx")]
                    argv += ["--detector", detector, "--search", str(search)]
                    argv += ["--out", str(scratch / "out")]
                    seconds = []
                    for _ in range(args.repeats):
                        start = time.perf_counter()
                        with contextlib.redirect_stdout(io.StringIO()):
                            predict_main(argv)
                        seconds.append(time.perf_counter() - start)
                    if (n_faces, detector, search, name) == (4, "blazeface", 1, "small"):
                        readme_figures(scratch / "out", clip.stem)
                    rows.append(
                        {
                            "faces": n_faces,
                            "detector": detector,
                            "search": search,
                            "model": name,
                            "fps": args.frames / float(np.median(seconds)),
                            "fps_each": [round(args.frames / t, 1) for t in seconds],
                        }
                    )
    machine = describe()
    result = {
        "cpu": machine["cpu"],
        "cores": machine["cores"],
        "frames": args.frames,
        "repeats": args.repeats,
        "rows": rows,
    }
    (RESULTS / "video.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        f"{machine['cpu']}, {machine['cores']} cores; a generated 640x360 clip of "
        f"{args.frames} frames, every frame analysed; the model on onnxruntime. Frames per "
        f"second (the median of {args.repeats} runs) of the whole command: decoding, "
        "detecting, classifying (the faces of 32 frames a batch), annotating and encoding "
        "the WebM (on a thread of its own), writing faces.csv and the plots. Search every "
        "N: the whole frame searched every Nth frame (--search N; BlazeFace searches a "
        "640x360 frame in three runs: whole and two square tiles) and each face followed "
        "near its last box between (one run a face; with four faces that is more runs "
        "than a search, so every frame is searched).",
        "",
        "| faces | detector | search every | model | frames/s |",
        "| ---: | --- | ---: | --- | ---: |",
    ]
    lines += [
        f"| {r['faces']} | {r['detector']} | {r['search']} | {r['model']} | {r['fps']:.1f} |"
        for r in rows
    ]
    publish("video", lines)


if __name__ == "__main__":
    main()
