"""Batched against one-filter-at-a-time gradient ascent for one conv layer.

Prints a Markdown table and writes it to bench/results/ascent.md.
Usage: python bench/ascent.py [--model models/cnn.keras] [--layer conv2] [--steps 20]
"""

import argparse
import os
import time
from pathlib import Path

from report import publish

from ferkit.analysis.ascent import AscentConfig, filter_ascent, noise_images
from ferkit.quiet import quiet_native_logs
from ferkit.runs import load_model

quiet_native_logs()  # before TensorFlow loads

ROOT = Path(__file__).resolve().parents[1]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(ROOT / "models" / "cnn.keras"))
    p.add_argument("--layer", default="conv2")
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args()
    model = load_model(args.model)
    cfg = AscentConfig(steps=args.steps)
    n = model.get_layer(args.layer).filters
    start = noise_images(n, model.input_shape[1:], cfg.seed)
    filter_ascent(model, args.layer, AscentConfig(steps=1), start=start)  # warm-up
    t = time.perf_counter()
    filter_ascent(model, args.layer, cfg, start=start)
    batched = time.perf_counter() - t
    t = time.perf_counter()
    for f in range(n):
        filter_ascent(model, args.layer, cfg, filters=[f], start=start[f : f + 1])
    single = time.perf_counter() - t
    lines = [
        f"Gradient ascent on all {n} filters of {args.layer} ({Path(args.model).name}), "
        f"{args.steps} steps, {os.cpu_count()} CPU cores.",
        "",
        "| method | seconds | per filter |",
        "| --- | ---: | ---: |",
        f"| batched: all filters in one batch | {batched:.1f} | {batched / n:.3f} |",
        f"| one filter at a time | {single:.1f} | {single / n:.3f} |",
        "",
        f"Speed-up: {single / batched:.1f}x.",
    ]
    publish("ascent", lines)


if __name__ == "__main__":
    main()
