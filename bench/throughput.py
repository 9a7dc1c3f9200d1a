"""Training and inference images per second of every architecture, against the
machine's matrix-multiply ceiling and a plain Keras model.fit baseline.

Keeps one entry per machine in bench/results/throughput.json (a CPU with native bfloat16
and one that emulates it, or the same CPU under `ONEDNN_MAX_CPU_ISA=AVX2`, side by side),
prints the tables and writes them to bench/results/throughput.md.
Usage: python bench/throughput.py [--models cnn,dnn,fast,vgg] [--steps 30]
       python bench/throughput.py --trainer   # where an epoch of the suite trainer goes
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from report import RESULTS, default_data, publish

from ferkit.machine import describe, isa_cap, native_bfloat16_cpu
from ferkit.quiet import quiet_native_logs

quiet_native_logs()  # before TensorFlow loads

ROOT = Path(__file__).resolve().parents[1]

BATCH = 128
INFER = 4096  # faces per inference timing
THROUGHPUT = RESULTS / "throughput.json"


def forward_flops(model):
    """Multiply-adds x 2 of one image's forward pass through the conv and dense layers."""
    from keras import layers

    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            h, w, cout = layer.output.shape[1:]
            k = np.prod(layer.kernel_size)
            total += 2 * h * w * cout * k * layer.input.shape[-1]
        elif isinstance(layer, layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
    return int(total)


def matmul_gflops(dtype, n=2048, reps=20):
    """Achieved GFLOP/s of one n x n matrix product, the ceiling for dense layers."""
    import tensorflow as tf

    a = tf.random.normal((n, n), dtype=tf.float32)
    a = tf.cast(a, dtype)

    @tf.function
    def run():
        x = a
        for _ in range(reps):
            x = tf.matmul(x, a) * 1e-3
        return x

    run()
    t = time.perf_counter()
    run().numpy()
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


class _EpochTimer:
    def __init__(self):
        import keras

        timer = self

        class Cb(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                timer.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                timer.seconds.append(time.perf_counter() - timer.start)

        self.seconds = []
        self.callback = Cb()


def _fit_seconds(model, data, steps, **kw):
    """Seconds of the second epoch (the first one traces and warms up)."""
    timer = _EpochTimer()
    model.fit(data, epochs=2, steps_per_epoch=steps, callbacks=[timer.callback], verbose=0, **kw)
    return timer.seconds[-1]


def measure(name, precision, x, y, steps):
    import keras
    import tensorflow as tf

    from ferkit.augment import parse_augment
    from ferkit.evaluate import predict_probs
    from ferkit.models import BUILDERS
    from ferkit.precision import dtype_policy
    from ferkit.train.pipeline import make_dataset

    keras.utils.set_random_seed(0)
    with dtype_policy(precision):
        model = BUILDERS[name](augment=parse_augment("none"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    n = steps * BATCH
    suite = make_dataset(x[:n], y[:n], BATCH, shuffle_seed=0).repeat()
    t_suite = _fit_seconds(model, suite, steps)
    one = tf.data.Dataset.from_tensors((x[:BATCH], y[:BATCH])).repeat()
    t_compute = _fit_seconds(model, one, steps)
    infer = x[:INFER]
    predict_probs(model, infer[:1024])
    t = time.perf_counter()
    predict_probs(model, infer)
    t_infer = time.perf_counter() - t
    flops = forward_flops(model)
    train_ips = n / t_suite
    return {
        "model": name,
        "precision": precision,
        "params": model.count_params(),
        "mflops": flops / 1e6,
        "train_ips": train_ips,
        "compute_ips": n / t_compute,
        "input_share": max(0.0, 1 - t_compute / t_suite),
        "infer_ips": len(infer) / t_infer,
        "train_gflops": 3 * flops * train_ips / 1e9,  # backward costs about twice forward
    }


def baseline_fit(x, y, steps):
    """The reference CNN trained by a plain model.fit on float32 arrays."""
    import keras

    from ferkit.models import build_cnn

    keras.utils.set_random_seed(0)
    model = build_cnn()
    model.compile(optimizer="adadelta", loss="sparse_categorical_crossentropy")
    n = steps * BATCH
    xf = x[:n].astype(np.float32)
    timer = _EpochTimer()
    model.fit(xf, y[:n], batch_size=BATCH, epochs=2, callbacks=[timer.callback], verbose=0)
    return n / timer.seconds[-1]


class _PhaseClock:
    """Timestamps of fit's hooks, to split an epoch of the suite trainer into phases."""

    def __init__(self):
        import keras

        self.events = []
        clock = self

        class Cb(keras.callbacks.Callback):
            pass

        for hook in (
            "on_epoch_begin",
            "on_train_batch_begin",
            "on_train_batch_end",
            "on_test_begin",
            "on_test_end",
            "on_epoch_end",
            "on_train_end",
        ):
            setattr(
                Cb,
                hook,
                lambda self, *a, _h=hook, **k: clock.events.append((_h, time.perf_counter())),
            )
        self.callback = Cb()

    def phases(self, epoch):
        """Seconds per phase of the given epoch (0-based; not the last one)."""
        starts = [i for i, (h, _) in enumerate(self.events) if h == "on_epoch_begin"]
        ev = self.events[starts[epoch] : starts[epoch + 1] + 1]
        t = {h: [s for e, s in ev if e == h] for h in {e for e, _ in ev}}
        begins, ends = t["on_train_batch_begin"], t["on_train_batch_end"]
        steps = sum(e - b for b, e in zip(begins, ends))
        return {
            "training steps": steps,
            "between steps (callbacks, progress)": ends[-1]
            - begins[0]
            - steps
            + begins[0]
            - t["on_epoch_begin"][0],
            "end of training to validation": t["on_test_begin"][0] - ends[-1],
            "validation pass": t["on_test_end"][0] - t["on_test_begin"][0],
            "progress line, CSV log, best weights": t["on_epoch_end"][0] - t["on_test_end"][0],
            "snapshot, backup, next epoch set-up": t["on_epoch_begin"][1] - t["on_epoch_end"][0],
        }, len(begins)


def trainer_breakdown(data, epochs, repeats=3):
    """Where an epoch of the suite trainer goes, against the same number of training
    steps on one cached batch and the bare validation pass. Timings on a
    shared machine vary by 10-20% from run to run, so each side is its fastest: the
    quickest epoch after the first (which traces) and the quickest of `repeats` bare
    runs."""
    import tensorflow as tf

    from ferkit.evaluate import predict_probs
    from ferkit.models import build_cnn
    from ferkit.train.config import TrainConfig
    from ferkit.train.loop import train
    from ferkit.train.pipeline import split_indices

    clock = _PhaseClock()
    # float32, as the bare model it is compared with.
    config = TrainConfig(epochs=epochs, models_dir=tempfile.mkdtemp(), precision="float32")
    with open(os.devnull, "w") as quiet:
        train(build_cnn, data, config, out=quiet, extra_callbacks=[clock.callback])
    measured = [clock.phases(e) for e in range(1, epochs - 1)]
    phases, steps = min(measured, key=lambda m: sum(m[0].values()))
    tr, va = split_indices(data.y_train, config)
    model = build_cnn()
    model.compile(
        optimizer="adadelta", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    batch = tf.data.Dataset.from_tensors((data.x_train[tr[:BATCH]], data.y_train[tr[:BATCH]]))
    bare = {
        "training steps": min(_fit_seconds(model, batch.repeat(), steps) for _ in range(repeats))
    }
    for name, part in (("validation pass", data.x_train[va]),):
        predict_probs(model, part)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            predict_probs(model, part)
            times.append(time.perf_counter() - t)
        bare[name] = min(times)
    return phases, bare


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=default_data())
    p.add_argument("--models", default="cnn,dnn,fast,vgg")
    p.add_argument("--precisions", default="float32,bfloat16")
    p.add_argument("--steps", type=int, default=30, help="timed training steps per model")
    p.add_argument(
        "--trainer",
        action="store_true",
        help="instead, split an epoch of the suite trainer into phases (bench/results/trainer.md)",
    )
    args = p.parse_args()

    from ferkit.data import load_data
    from ferkit.quiet import import_tensorflow_quietly

    data = load_data(args.data)
    import_tensorflow_quietly()
    import tensorflow as tf

    if args.trainer:
        return trainer_main(data)

    x, y = data.x_train, data.y_train
    precisions = args.precisions.split(",")
    capped = isa_cap() and not native_bfloat16_cpu()
    if capped:
        # Under the cap oneDNN refuses its bfloat16 primitives outright ("could not create
        # a primitive descriptor"): only a CPU that lacks the instructions emulates them.
        precisions = [p for p in precisions if p != "bfloat16"]
    dtypes = ("float32",) if capped else ("float32", "bfloat16")
    ceiling = {d: matmul_gflops(getattr(tf, d)) for d in dtypes}
    rows = [
        measure(m, prec, x, y, args.steps) for m in args.models.split(",") for prec in precisions
    ]
    base = baseline_fit(x, y, args.steps)
    machine = describe()
    results = json.loads(THROUGHPUT.read_text()) if THROUGHPUT.exists() else {}
    # A run of a few models adds to the machine's table rather than replacing it.
    measured = {(r["model"], r["precision"]) for r in rows}
    earlier = results.get(machine["cpu"], {}).get("rows", [])
    rows = [r for r in earlier if (r["model"], r["precision"]) not in measured] + rows
    results[machine["cpu"]] = {
        "cpu": machine["cpu"],
        "cores": machine["cores"],
        "native_bfloat16": native_bfloat16_cpu(),
        "tensorflow": tf.__version__,
        "steps": args.steps,
        "ceiling_gflops": ceiling,
        "rows": rows,
        "baseline_ips": base,
    }
    THROUGHPUT.write_text(json.dumps(results, indent=1) + "\n")
    publish("throughput", throughput_lines(results))


def throughput_lines(results):
    """One table a machine, from bench/results/throughput.json."""
    lines = []
    for r in results.values():
        ceiling = r["ceiling_gflops"]
        how = "native" if r["native_bfloat16"] else "not native"
        peaks = ", ".join(f"{d} {g:.0f} GFLOP/s" for d, g in ceiling.items())
        lines += [
            f"**{r['cpu']}**, {r['cores']} cores, bfloat16 {how}, TensorFlow {r['tensorflow']}; "
            f"batch {BATCH}, {r['steps']} timed steps. Matrix-multiply ceiling (2048x2048): "
            f"{peaks}.",
            "",
            "| model | precision | params | MFLOP/image | train img/s | GFLOP/s | % of matmul "
            "| input share | infer img/s |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in r["rows"]:
            lines.append(
                f"| {row['model']} | {row['precision']} | {row['params']:,} "
                f"| {row['mflops']:.1f} | {row['train_ips']:.0f} | {row['train_gflops']:.0f} "
                f"| {100 * row['train_gflops'] / ceiling[row['precision']]:.0f}% "
                f"| {100 * row['input_share']:.1f}% | {row['infer_ips']:.0f} |"
            )
        cnn = [x for x in r["rows"] if x["model"] == "cnn" and x["precision"] == "float32"]
        lines += [
            "",
            "Baseline: the reference CNN by plain `model.fit` on float32 arrays: "
            f"{r['baseline_ips']:.0f} img/s"
            + (
                f"; the suite's uint8 tf.data pipeline: {cnn[0]['train_ips']:.0f} img/s."
                if cnn
                else "."
            ),
            "",
        ]
    return lines + [
        "GFLOP/s counts a training step as three forward passes. Input share: the part of "
        "a training epoch not spent in the model (suite pipeline against one cached batch). "
        "Inference runs as `predict.py` does: a bfloat16 model computes in its float32 copy "
        "where bfloat16 is not native. Under a oneDNN cap (`ONEDNN_MAX_CPU_ISA=AVX2`, which "
        "emulates an AVX2-only CPU on a larger one) only float32 runs: oneDNN refuses its "
        "bfloat16 primitives there, where a CPU that lacks the instructions emulates them.",
    ]


def trainer_main(data):
    phases, bare = trainer_breakdown(data, 5)
    wall, compute = sum(phases.values()), sum(bare.values())
    machine = describe()
    lines = [
        f"{machine['cpu']}, {machine['cores']} cores. The suite trainer on the reference "
        "CNN and the full data: its fastest epoch (of the second to fourth of five) takes "
        f"{wall:.1f} s; the model's own "
        f"computation (as many training steps on one cached batch, and a bare validation "
        f"pass; the fastest of three) takes {compute:.1f} s, so "
        f"{100 * (1 - compute / wall):.1f}% of the epoch is spent outside it.",
        "",
        "| phase of the epoch | seconds | bare model |",
        "| --- | ---: | ---: |",
    ]
    for name, seconds in phases.items():
        ref = bare.get(name)
        lines.append(f"| {name} | {seconds:.2f} | {'' if ref is None else f'{ref:.2f}'} |")
    publish("trainer", lines)


if __name__ == "__main__":
    main()
