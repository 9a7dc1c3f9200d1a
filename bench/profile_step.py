"""Where one training step of a net goes, by oneDNN primitive: convolutions forward and
backward, activations, pooling, dense layers, layout reorders; and what is left of the
step outside oneDNN (TensorFlow's own kernels: BatchNorm, dropout masks, augmentation,
the optimizer's update, casts).

Each precision runs in a fresh process with ONEDNN_VERBOSE=1, which logs every primitive
oneDNN executes and its time; a run trains `--steps` steps of batch 128 on real faces
(augmentation as the recipe has it) and the log of the last `--timed` is summed.
Usage: python bench/profile_step.py [--model vgg] [--precisions float32,bfloat16]
"""

import argparse
import collections
import json
import os
import subprocess
import sys
from pathlib import Path

from report import RESULTS, default_data, publish

from ferkit.machine import describe

ROOT = Path(__file__).resolve().parents[1]

STEP = r"""
import ctypes, json, os, sys, time
import keras
from ferkit.augment import parse_augment
from ferkit.data import load_data
from ferkit.models import BUILDERS
from ferkit.precision import dtype_policy
from ferkit.train.pipeline import make_dataset
model_name, precision, augment, steps, timed, data = sys.argv[1:7]
steps, timed = int(steps), int(timed)
faces = load_data(data)
x, y = faces.x_train[: 128 * steps], faces.y_train[: 128 * steps]
keras.utils.set_random_seed(0)
with dtype_policy(precision):
    model = BUILDERS[model_name](augment=parse_augment(augment))
model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="categorical_crossentropy")
libc = ctypes.CDLL(None)


def mark(text):
    # oneDNN logs through C's stdio: flushed first, so the marker falls between steps.
    libc.fflush(None)
    os.write(1, (text + "\n").encode())


class Clock(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if batch == steps - timed:
            mark("PROFILE-START")
            self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if batch == steps - 1:
            wall = time.perf_counter() - self.start
            mark("PROFILE-END " + json.dumps({"wall_ms": 1000 * wall / timed}))


data = make_dataset(x, y, 128, 0, one_hot=True)
model.fit(data, epochs=1, steps_per_epoch=steps, callbacks=[Clock()], verbose=0)
"""

# oneDNN primitive kinds, by the names the table uses.
KINDS = {
    "convolution": "convolution",
    "deconvolution": "convolution",
    "batch_normalization": "BatchNorm",
    "layer_normalization": "LayerNorm",
    "eltwise": "activations (eltwise)",
    "pooling": "pooling",
    "inner_product": "dense (inner product)",
    "matmul": "dense (matmul)",
    "reorder": "layout reorders",
    "binary": "element-wise binary",
    "softmax": "softmax",
    "sum": "sums",
}


def primitive_times(lines):
    """{(kind, direction): milliseconds} of the oneDNN exec lines."""
    totals = collections.Counter()
    for line in lines:
        if not line.startswith("onednn_verbose") or ",exec," not in line:
            continue
        fields = line.split(",")
        kind = next((f for f in fields if f in KINDS), None)
        if kind is None:
            continue
        prop = next((f for f in fields if f.startswith(("forward", "backward"))), "")
        direction = {"backward_data": "backward (data)", "backward_weights": "backward (weights)"}
        way = direction.get(prop, "backward" if prop.startswith("backward") else "forward")
        totals[(KINDS[kind], way if kind not in ("reorder", "sum") else "")] += float(fields[-1])
    return totals


def profile(model, precision, augment, steps, timed, data):
    env = dict(os.environ, ONEDNN_VERBOSE="1", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, "-c", STEP, model, precision, augment, str(steps), str(timed), data],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    if done.returncode:
        sys.exit(done.stderr[-3000:])
    lines = done.stdout.splitlines()
    start = lines.index("PROFILE-START")
    end = next(i for i, line in enumerate(lines) if line.startswith("PROFILE-END"))
    wall = json.loads(lines[end].split(" ", 1)[1])["wall_ms"]
    times = {k: v / timed for k, v in primitive_times(lines[start:end]).items()}
    return {
        "wall_ms": wall,
        "primitives_ms": {f"{k} {w}".strip(): v for (k, w), v in times.items()},
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=default_data())
    p.add_argument("--model", default="vgg")
    p.add_argument("--augment", default="strong", help="as the strong recipe trains")
    p.add_argument("--precisions", default="float32,bfloat16")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--timed", type=int, default=6)
    p.add_argument("--from-json", action="store_true", help="write the table of the saved JSON")
    args = p.parse_args(argv)
    path = RESULTS / "profile_step.json"
    if args.from_json:
        return publish("profile_step", table(json.loads(path.read_text())))
    machine = describe()
    saved = {
        "cpu": machine["cpu"],
        "cores": machine["cores"],
        "model": args.model,
        "augment": args.augment,
        "timed": args.timed,
        "runs": {
            precision: profile(
                args.model, precision, args.augment, args.steps, args.timed, args.data
            )
            for precision in args.precisions.split(",")
        },
    }
    path.write_text(json.dumps(saved, indent=1) + "\n")
    publish("profile_step", table(saved))


def table(saved):
    """The Markdown page of a saved profile."""
    results = saved["runs"]
    kinds = sorted({k for r in results.values() for k in r["primitives_ms"]})
    head = "| part of the step | " + " | ".join(f"{p} ms | share" for p in results) + " |"
    lines = [
        f"{saved['cpu']}, {saved.get('cores', 2)} cores: one training step of "
        f"`{saved['model']}` (batch 128, augmentation `{saved.get('augment', 'strong')}`, "
        f"AdamW), the mean of {saved.get('timed', 6)} steps after warm-up. oneDNN's own log "
        "times each primitive (ONEDNN_VERBOSE=1, which slows the step a little); the rest of "
        "the step runs outside oneDNN. Where TensorFlow runs two operations at once their "
        "times overlap, so that rest is a lower bound.",
        "",
        head,
        "| --- |" + " ---: | ---: |" * len(results),
    ]
    for kind in kinds:
        cells = []
        for r in results.values():
            ms = r["primitives_ms"].get(kind, 0.0)
            cells.append(f"{ms:.1f} | {100 * ms / r['wall_ms']:.0f}%")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    rest = [
        f"{max(0.0, r['wall_ms'] - sum(r['primitives_ms'].values())):.1f} "
        f"| {max(0.0, 100 - 100 * sum(r['primitives_ms'].values()) / r['wall_ms']):.0f}%"
        for r in results.values()
    ]
    lines.append(
        "| outside oneDNN (TensorFlow's own kernels: BatchNorm, optimizer, dropout, "
        "augmentation, casts) | " + " | ".join(rest) + " |"
    )
    lines.append(
        "| **the step** | "
        + " | ".join(f"**{r['wall_ms']:.1f}** | 100%" for r in results.values())
        + " |"
    )
    return lines


if __name__ == "__main__":
    main()
