"""How long a training recipe takes to reach 0.62 public accuracy on this machine.

Trains the recipe from scratch with a wall-clock budget and records the public accuracy
after every epoch, or (--from-run) reads them from a run that train_cnn.py saved, up to
its first epoch at the target. Prints the table and keeps it in
bench/results/time_to_accuracy.json and bench/RESULTS.md.
Usage: python bench/time_to_accuracy.py --recipe fast --budget-minutes 10 [--stop-at-target]
       python bench/time_to_accuracy.py --from-run models/cnn.json
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from report import TIME_TO_ACCURACY, publish, time_to_accuracy_lines

import ferkit.quiet  # noqa: F401 - quiets TensorFlow's C++ logging before it loads
from ferkit.record import read_record
from ferkit.train.recipes import RECIPES

ROOT = Path(__file__).resolve().parents[1]


def budget_callback(start, budget_s, target, stop_at_target):
    """Stops training once the budget is spent (mid-epoch too) or the target is met."""
    import keras

    class Budget(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds, self.accs = [], []

        def on_train_batch_end(self, batch, logs=None):
            if time.perf_counter() - start > budget_s:
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(round(time.perf_counter() - start, 1))
            self.accs.append(round(logs["public_accuracy"], 4))
            if stop_at_target and (logs.get("public_accuracy") or 0) >= target:
                self.model.stop_training = True

    return Budget()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", choices=tuple(RECIPES), default="fast")
    p.add_argument("--budget-minutes", type=float, default=10.0)
    p.add_argument("--target", type=float, default=0.62)
    p.add_argument("--stop-at-target", action="store_true", help="stop at the first --target")
    p.add_argument("--data", default=os.environ.get("FER_DATA", str(ROOT / "data")))
    p.add_argument("--json", default=str(TIME_TO_ACCURACY), help="results file (merged)")
    p.add_argument("--keep", help="models folder to keep the run in (as RECIPE.keras/.json)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--from-run", metavar="JSON", help="a saved run's record instead of training")
    args = p.parse_args()
    if args.from_run:
        recipe, entry = from_run(args.from_run, args.target)
        return save(args, recipe, entry)

    # The clock starts before anything is loaded: this is what a user waits for.
    start = time.perf_counter()
    from ferkit.data import load_data
    from ferkit.quiet import import_tensorflow_quietly
    from ferkit.train.recipes import resolve

    data = load_data(args.data)
    if not data.public.any():
        sys.exit(f"{args.data}: no public labels to measure accuracy on")
    import_tensorflow_quietly()
    from ferkit.models import builder_for
    from ferkit.train.loop import train

    config = resolve("cnn", args.recipe)
    config.name, config.seed = args.recipe, args.seed
    config.models_dir = args.keep or tempfile.mkdtemp()
    stop = budget_callback(start, 60 * args.budget_minutes, args.target, args.stop_at_target)
    record = train(builder_for(config), data, config, extra_callbacks=[stop])
    entry = summary(stop.seconds, stop.accs, args.target, args.budget_minutes, record)
    save(args, args.recipe, entry)


def summary(seconds, accs, target, budget_minutes, record):
    first = next((s for s, a in zip(seconds, accs) if a >= target), None)
    return {
        f"seconds_to_{target}": first,
        "public_acc_by_epoch": accs,
        "seconds_by_epoch": seconds,
        "cores": os.cpu_count(),
        "budget_minutes": budget_minutes,
        # The scratch models folder is of no interest, and a path of this machine.
        "config": {k: v for k, v in record["config"].items() if k != "models_dir"},
    }


def from_run(path, target):
    """(recipe, entry) from a saved run: its epochs up to the first at the target.

    Its clock starts with the first epoch (data loading and model building, a few
    seconds, are not in the record).
    """
    record = read_record(path)
    seconds = [round(h["wall_seconds"], 1) for h in record["history"]]
    accs = [round(h["public_accuracy"], 4) for h in record["history"]]
    reached = next((i for i, a in enumerate(accs) if a >= target), len(accs) - 1)
    entry = summary(seconds[: reached + 1], accs[: reached + 1], target, None, record)
    entry["source"] = Path(path).name
    return record["config"].get("recipe") or "reference", entry


def save(args, recipe, entry):
    results = json.loads(Path(args.json).read_text()) if Path(args.json).exists() else {}
    results[recipe] = entry
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    publish("time_to_accuracy", time_to_accuracy_lines(results, args.target))


if __name__ == "__main__":
    main()
