"""How long a training recipe takes to reach 0.62 validation accuracy on this machine.

Trains the recipe from scratch once per seed (each seed draws its own split and weights)
and records, after every epoch, the validation accuracy and the seconds since the start
(data loading included), and the public accuracy of the finished model (its best
validation epoch); or (--from-run) reads them from a run that a trainer saved. Selection
and the target use validation only; public is reported beside it.
Writes bench/results/time_to_accuracy.json, one entry per recipe and machine (each
stating its CPU and the precision it trained in, `--precision auto`'s choice), and the
table in bench/RESULTS.md. A CPU without native bfloat16 can be emulated on one that has
it with `ONEDNN_MAX_CPU_ISA=AVX2`; its CPU then reads "oneDNN capped at AVX2".
A variant (`--set augment=flip --set epochs=10`) is an entry of its own, named with the
settings it changed; an entry of an earlier version of a recipe is named with the
settings it had then.
Usage: python bench/time_to_accuracy.py --recipe fast --seeds 0 1 2 [--budget-minutes M]
       python bench/time_to_accuracy.py --recipe reference --stop-at-target --max-minutes 60
       python bench/time_to_accuracy.py --from-run models/fast.json
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from report import TIME_TO_ACCURACY, default_data, publish, time_to_accuracy_lines

from ferkit.machine import describe
from ferkit.quiet import quiet_native_logs
from ferkit.record import read_record
from ferkit.report import changes_text
from ferkit.train.recipes import RECIPE_SETTINGS, RECIPES, resolve

quiet_native_logs()  # before TensorFlow loads

ROOT = Path(__file__).resolve().parents[1]
METRIC = "val_accuracy"


def clock_callback(start, target, stop_at_target, max_seconds):
    """Seconds since start after every epoch; stops at the target if asked, or at
    max_seconds (mid-epoch too)."""
    import keras

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_train_batch_end(self, batch, logs=None):
            if max_seconds and time.perf_counter() - start > max_seconds:
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(round(time.perf_counter() - start, 1))
            if stop_at_target and logs[METRIC] >= target:
                self.model.stop_training = True

    return Clock()


def run_entry(seed, seconds, record, target):
    """One run of the results file, from its record and the clock's epoch times."""
    val = [round(h[METRIC], 4) for h in record["history"]][: len(seconds)]
    first = next((s for s, a in zip(seconds, val) if a >= target), None)
    return {
        "seed": seed,
        "seconds_to_target": first,
        "val_by_epoch": val,
        "public_at_best": record["public_accuracy"],
        "seconds_by_epoch": seconds,
        "precision": (record.get("precision") or {}).get("used")
        or record["config"].get("precision"),
    }


def train_once(args, seed, data):
    from ferkit.models import builder_for
    from ferkit.train.loop import train

    start = time.perf_counter()
    config = resolve("cnn", args.recipe, **args.set)
    config.name, config.seed = args.recipe, seed
    config.budget_minutes = args.budget_minutes
    with tempfile.TemporaryDirectory() as scratch:
        config.models_dir = scratch
        clock = clock_callback(start, args.target, args.stop_at_target, 60 * args.max_minutes)
        record = train(builder_for(config), data, config, extra_callbacks=[clock])
    # The data's loading counts: it is what a user waits for too.
    offset = args.load_seconds if seed == args.seeds[0] else 0.0
    return run_entry(seed, [round(s + offset, 1) for s in clock.seconds], record, args.target)


def parse_settings(recipe, pairs):
    """{setting: value} of --set KEY=VALUE pairs, each value of its setting's type."""
    base = asdict(resolve("cnn", recipe))
    found = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in RECIPE_SETTINGS:
            raise ValueError(f"{pair!r}: KEY=VALUE of {', '.join(RECIPE_SETTINGS)}")
        found[key] = type(base[key])(value)
    return found


def recipe_settings(config):
    """The settings a recipe fixes, of a TrainConfig as a dict."""
    return {k: config[k] for k in RECIPE_SETTINGS if k in config}


def entry(runs, target, machine, settings):
    reached = [r["seconds_to_target"] for r in runs]
    median = statistics.median(reached) if None not in reached else None
    return {
        "metric": METRIC,
        "target": target,
        "cpu": machine["cpu"],
        "cores": machine["cores"],
        "runs": runs,
        "median_seconds_to_target": median,
        # The recipe as it ran: a later change to it leaves this entry an earlier version.
        "settings": settings,
    }


def from_run(path, target):
    """(recipe, entry) from a saved run's per-epoch record; its clock starts with the
    first epoch (loading and building, a few seconds, are not in the record)."""
    record = read_record(path)
    seconds = [round(h["wall_seconds"], 1) for h in record["history"]]
    run = run_entry(record["config"]["seed"], seconds, record, target)
    machine = record.get("machine") or {"cpu": "not recorded", "cores": "-"}
    result = entry([run], target, machine, recipe_settings(record["config"]))
    result["source"] = Path(path).name
    return record["config"].get("recipe") or "reference", result


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", choices=tuple(RECIPES), default="fast")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--budget-minutes", type=float, help="size each run to M minutes")
    p.add_argument("--max-minutes", type=float, default=60.0, help="stop any run after this")
    p.add_argument("--target", type=float, default=0.62)
    p.add_argument("--stop-at-target", action="store_true", help="stop at the first --target")
    p.add_argument("--data", default=default_data())
    p.add_argument("--json", default=str(TIME_TO_ACCURACY), help="results file (merged)")
    p.add_argument("--from-run", metavar="JSON", help="a saved run's record instead of training")
    p.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="a variant: this recipe setting changed (repeatable), such as augment=flip",
    )
    args = p.parse_args()
    try:
        args.set = parse_settings(args.recipe, args.set)
    except ValueError as e:
        p.error(f"--set: {e}")
    if args.from_run:
        recipe, result = from_run(args.from_run, args.target)
        return save(args, recipe, result)
    start = time.perf_counter()
    from ferkit.data import load_data
    from ferkit.quiet import import_tensorflow_quietly

    data = load_data(args.data)
    if not data.public.any():
        sys.exit(f"{args.data}: no public labels to report beside validation")
    import_tensorflow_quietly()
    args.load_seconds = time.perf_counter() - start
    runs = [train_once(args, seed, data) for seed in args.seeds]
    settings = recipe_settings(asdict(resolve("cnn", args.recipe, **args.set)))
    name = f"{args.recipe} ({changes_text(args.set)})" if args.set else args.recipe
    save(args, name, entry(runs, args.target, describe(), settings))


def save(args, recipe, result):
    path = Path(args.json)
    results = json.loads(path.read_text()) if path.exists() else {}
    results.setdefault(recipe, {})[result["cpu"]] = result
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")
    if path.resolve() == Path(TIME_TO_ACCURACY).resolve():
        publish("time_to_accuracy", time_to_accuracy_lines(results))
    else:  # a scratch file: the published table keeps the machines it holds
        print("\n".join(time_to_accuracy_lines(results)))


if __name__ == "__main__":
    main()
