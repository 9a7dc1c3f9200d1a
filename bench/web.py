"""Frames per second of the browser page (python -m ferkit.web): detection and
classification in Chromium on ONNX Runtime Web (wasm, on one thread and on the machine's
cores), against Python's path on the same frames (BlazeFace on LiteRT, the model on
onnxruntime), with small and fast.

The frames are bench/video.py's clip: public test faces drifting over a grey gradient at
640x360, with one face and with four. The page analyses the frames one after the other,
the camera's own rate left out, in two ways: each searched whole (grey levels, the
detector on the frame and on its two square tiles, the crops, the model, the boxes and bars
drawn), as a photo is; and followed, as a camera's frames are (the whole frame searched
every detect.REDETECT frames, between them one detector run a face near its last box,
where the faces are fewer than a search's runs).
Usage: python bench/web.py [--frames 60]
"""

import argparse
import functools
import http.server
import itertools
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path

import cv2
from report import RESULTS, default_data, publish
from video import clip_frames

from ferkit.data import load_data
from ferkit.deploy.detect import REDETECT, Follower, make_detector
from ferkit.deploy.photos import faces_in_image
from ferkit.evaluate import predict_probs
from ferkit.machine import describe
from ferkit.quiet import import_tensorflow_quietly
from ferkit.runs import load_model

ROOT = Path(__file__).resolve().parents[1]
# Chromium compiles wasm fast first and well later: the first runs are slow.
WARM_UP = 30

# Run in the page: decode the frames, analyse a few to warm up, then time them all.
TIMED = """async ([urls, warmUp, follow]) => {
  const frames = [];
  for (const url of urls) {
    const blob = await (await fetch(url)).blob();
    frames.push(await createImageBitmap(blob, { colorSpaceConversion: "none" }));
  }
  for (let i = 0; i < warmUp; i++) await ferkit.analyse(frames[i % frames.length], follow);
  let faces = 0;
  const start = performance.now();
  for (const frame of frames) faces += (await ferkit.analyse(frame, follow)).length;
  return { seconds: (performance.now() - start) / 1000, faces };
}"""


def page_rate(site, names, chromium, isolated, follow):
    """(frames/s, faces found, threads) of the page at site on its frames `names`, served
    with cross-origin isolation (the runtime's threads) or without (one thread), each
    frame searched whole or its faces followed."""
    from playwright.sync_api import sync_playwright

    from ferkit.web.__main__ import Handler

    served = type("Served", (Handler,), {"isolated": isolated})
    handler = functools.partial(served, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.server_port}/")
            page.wait_for_function("window.ferkit && window.ferkit.ready", timeout=60_000)
            done = page.evaluate(TIMED, [[f"frames/{n}" for n in names], WARM_UP, follow])
            threads = page.evaluate("crossOriginIsolated ? navigator.hardwareConcurrency : 1")
            browser.close()
    finally:
        server.shutdown()
    return len(names) / done["seconds"], done["faces"], threads


def python_rate(frames, model, follow):
    """(frames/s, faces found) of Python's path, a frame at a time."""
    detector = make_detector("blazeface")
    if follow:
        detector = Follower(detector)
    for frame in frames[:WARM_UP]:
        predict_probs(model, faces_in_image(frame, detector)[1])
    found, start = 0, time.perf_counter()
    for frame in frames:
        faces, crops = faces_in_image(frame, detector)
        predict_probs(model, crops)
        found += len(faces)
    return len(frames) / (time.perf_counter() - start), found


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=default_data())
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--chromium", default=shutil.which("chromium"), help="the browser to drive")
    args = p.parse_args(argv)
    import_tensorflow_quietly()
    from ferkit.web.site import build_site

    faces = load_data(args.data).x_test[:4, :, :, 0]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        for name in ("small", "fast"):
            site = build_site(ROOT / "models" / f"{name}.keras", scratch / name)
            model = load_model(site / "model.onnx")
            for n_faces in (1, 4):
                frames = list(clip_frames(faces[:n_faces], args.frames))
                (site / "frames").mkdir(exist_ok=True)
                names = [f"{n_faces}-{i}.png" for i in range(len(frames))]
                for frame, file in zip(frames, names):
                    cv2.imwrite(str(site / "frames" / file), frame)
                for follow, isolated in itertools.product((False, True), (False, True)):
                    python_fps, python_faces = python_rate(frames, model, follow)
                    fps, found, threads = page_rate(site, names, args.chromium, isolated, follow)
                    rows.append(
                        {"model": name, "faces": n_faces, "threads": min(4, threads),
                         "frames": "followed" if follow else "whole",
                         "page_fps": fps, "python_fps": python_fps,
                         "page_found": found / len(frames),
                         "python_found": python_faces / len(frames)}
                    )  # fmt: skip
                    print(rows[-1], flush=True)
    machine = describe()
    result = {"cpu": machine["cpu"], "cores": machine["cores"], "frames": args.frames, "rows": rows}
    (RESULTS / "web.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        f"{machine['cpu']}, {machine['cores']} cores; bench/video.py's 640x360 clip, "
        f"{args.frames} frames, each searched whole (BlazeFace on the frame and its two "
        "square tiles), or followed as a camera's frames are (the whole frame every "
        f"{REDETECT} frames, between them one run a face near its last box, where the "
        "faces are fewer than the search's three runs; four faces are searched for); then the "
        "crops and the model. The page: Chromium, ONNX Runtime Web (wasm; "
        "one thread from a host without cross-origin isolation, the machine's cores from "
        "python -m ferkit.web's server), boxes and bars drawn. Python: BlazeFace on LiteRT, "
        "the model on onnxruntime, as predict.py runs them. Faces a frame: what each found.",
        "",
        "| model | faces | frames | page threads | page frames/s | Python frames/s "
        "| faces a frame, page | faces a frame, Python |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {r['model']} | {r['faces']} | {r['frames']} | {r['threads']} | {r['page_fps']:.1f} "
        f"| {r['python_fps']:.1f} | {r['page_found']:.2f} | {r['python_found']:.2f} |"
        for r in rows
    ]
    publish("web", lines)


if __name__ == "__main__":
    main()
