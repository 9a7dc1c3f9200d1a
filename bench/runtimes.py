"""Inference speed of every shipped model on each runtime: Keras, LiteRT, onnxruntime.

Exports each model (float32) to a scratch folder, then times predictions on the 7,178
test faces in batches, and single faces one at a time (webcam-style, single stream).
Prints a Markdown table and writes it to bench/results/runtimes.md, and the speeds to
bench/results/runtimes.json (for bench/frontier.py).
Usage: python bench/runtimes.py [--data DIR] [--models NAME ...] [--repeat N]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from report import RUNTIMES, default_data, publish

from ferkit.data import load_data
from ferkit.machine import describe
from ferkit.quiet import import_tensorflow_quietly, native_output_caught

ROOT = Path(__file__).resolve().parents[1]

SHIPPED = ("cnn", "cnn_stage1", "dnn", "fast", "small", "strong", "best", "ferplus")
SINGLE_FACES = 200


def faces_per_second(model, x, repeat, batch_size=512):
    """Batched throughput (fastest of repeat) and single-face throughput."""
    from ferkit.evaluate import predict_probs

    predict_probs(model, x[:batch_size])  # warm-up: tracing, allocation
    best = min(_timed(lambda: predict_probs(model, x, batch_size)) for _ in range(repeat))
    predict_probs(model, x[:1])
    single = _timed(lambda: [predict_probs(model, x[i : i + 1]) for i in range(SINGLE_FACES)])
    return len(x) / best, SINGLE_FACES / single


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=default_data())
    p.add_argument("--models", nargs="+", default=list(SHIPPED))
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    import_tensorflow_quietly()
    from ferkit.deploy.export import export_onnx, export_tflite
    from ferkit.runs import load_model

    x = load_data(args.data).x_test
    machine = describe()
    rows, speeds = [], {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.models:
            model = load_model(ROOT / "models" / f"{name}.keras")
            lite, onnx = Path(scratch) / f"{name}.tflite", Path(scratch) / f"{name}.onnx"
            with native_output_caught(fds=(1, 2)):
                export_tflite(model, lite)
                export_onnx(model, onnx)
            for runtime, m in (
                ("Keras", model),
                ("LiteRT", load_model(lite)),
                ("onnxruntime", load_model(onnx)),
            ):
                batched, single = faces_per_second(m, x, args.repeat)
                speeds.setdefault(name, {})[runtime] = {
                    "batched": round(batched),
                    "single": round(single),
                }
                rows.append(f"| {name} | {runtime} | {batched:,.0f} | {single:,.0f} |")
                print(rows[-1], flush=True)
    # Merged, so that a run over some models keeps the others' speeds.
    known = json.loads(RUNTIMES.read_text()) if RUNTIMES.exists() else {}
    RUNTIMES.write_text(json.dumps(known | speeds, indent=1) + "\n")
    publish(
        "runtimes",
        [
            f"{machine['cpu']}, {machine['cores']} cores. Faces per second on the "
            f"{len(x):,} test faces in batches of 512 (fastest of {args.repeat}), and one "
            f"face at a time ({SINGLE_FACES} faces, as a webcam feeds them). Keras runs the "
            "saved model (bfloat16 where it trained so); the exports compute in float32.",
            "",
            "| model | runtime | faces/s, batches of 512 | faces/s, one at a time |",
            "| --- | --- | ---: | ---: |",
            *rows,
        ],
    )


if __name__ == "__main__":
    main()
