"""Shared command-line plumbing for the entry scripts."""

import argparse
import os
import sys

# Quiet TensorFlow's C++ start-up chatter unless the user asked for it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from .data import default_data_path, load_data  # noqa: E402
from .errors import InputError, exit_on_input_error  # noqa: E402
from .training import TrainConfig  # noqa: E402


def import_tensorflow_quietly():
    """Imports TensorFlow with its C++ start-up banner (printed before any log
    setting applies) kept off the terminal; shows it if the import fails."""
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        return
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def parser(description):
    return argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )


def add_data_arg(p):
    p.add_argument(
        "--data",
        default=default_data_path(),
        help="homework folder (train.csv[.gz], test.csv[.gz], public_labels.csv) "
        "or Kaggle fer2013.csv[.gz]; default $FER_DATA or data/",
    )


def train_parser(model_name):
    d = TrainConfig()
    p = parser(
        f"Train the reference {model_name.upper()} on FER2013 (Adadelta, the report's recipe)."
    )
    add_data_arg(p)
    p.add_argument("--name", default=model_name, help="run name: models/NAME.keras and .json")
    p.add_argument("--epochs", type=int, default=d.epochs, help="maximum epochs")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument(
        "--seed", type=int, default=d.seed, help="seeds the split, weights, shuffling, dropout"
    )
    p.add_argument(
        "--val-split", type=float, default=d.val_split, help="fraction of training rows held out"
    )
    p.add_argument("--limit", type=int, default=None, help="use only N training rows (smoke runs)")
    p.add_argument(
        "--patience",
        type=int,
        default=None,
        help="stop after N epochs without a better val accuracy",
    )
    p.add_argument("--lr", type=float, default=d.learning_rate, help="Adadelta learning rate")
    p.add_argument("--rho", type=float, default=d.rho, help="Adadelta rho")
    p.add_argument("--models-dir", default=d.models_dir)
    p.add_argument("--figures-dir", default="figures")
    p.add_argument(
        "--distribute",
        choices=("mirrored",),
        help="MirroredStrategy over all GPUs (or the --cpu-devices); --batch-size is the "
        "global batch",
    )
    p.add_argument("--cpu-devices", type=int, help="split the CPU into N logical devices")
    return p


def check_args(p, args):
    if not 0 < args.val_split < 1:
        p.error("--val-split must be between 0 and 1")
    for flag in ("epochs", "batch_size", "limit", "patience", "cpu_devices"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            p.error(f"--{flag.replace('_', '-')} must be positive")
    if args.limit is not None and args.limit < 14:
        p.error("--limit must be at least 14 (two faces of each class)")


@exit_on_input_error
def train_main(model_name, argv=None):
    """Entry point of train_cnn.py / train_dnn.py: they differ only in model_name."""
    from pathlib import Path

    p = train_parser(model_name)
    args = p.parse_args(argv)
    check_args(p, args)
    config = TrainConfig(
        name=args.name,
        model=model_name,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        val_split=args.val_split,
        limit=args.limit,
        patience=args.patience,
        learning_rate=args.lr,
        rho=args.rho,
        models_dir=args.models_dir,
        distribute=args.distribute,
    )
    data = load_data(args.data)
    import_tensorflow_quietly()
    from .distribute import describe, make_strategy, split_cpu

    if args.cpu_devices:
        split_cpu(args.cpu_devices)
    strategy = make_strategy(args.distribute)
    from .models import BUILDERS, count_params
    from .plotting import plot_history, plt
    from .training import train

    replicas = strategy.num_replicas_in_sync
    if args.batch_size % replicas:
        p.error(f"--batch-size {args.batch_size} does not split evenly over {replicas} replicas")
    if args.distribute:
        per_replica = args.batch_size // replicas
        print(f"{describe(strategy)} (global batch {args.batch_size}, {per_replica} per replica)")

    counts = {
        name: count_params(build()) for name, build in BUILDERS.items() if name in ("cnn", "dnn")
    }
    print("trainable parameters: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    rows = f"{args.limit} of {data.y_train.size}" if args.limit else f"{data.y_train.size}"
    print(f"training {args.name} ({model_name}) on {data.source}: {rows} rows", flush=True)
    try:
        record = train(BUILDERS[model_name], data, config, strategy=strategy)
    except KeyboardInterrupt:
        print(f"\ninterrupted: run the same command again to resume {args.name}", file=sys.stderr)
        sys.exit(130)
    fig = plot_history(
        record["history"], title=f"{args.name}: best val {record['val_accuracy']:.3f}"
    )
    Path(args.figures_dir).mkdir(parents=True, exist_ok=True)
    fig.savefig(Path(args.figures_dir) / f"{args.name}_history.png", dpi=100)
    plt.close(fig)
    summary = (
        f"{args.name}: val accuracy {record['val_accuracy']:.4f} (epoch {record['best_epoch']})"
    )
    if record["public_accuracy"] is not None:
        summary += f", public accuracy {record['public_accuracy']:.4f}"
    print(summary + f"; saved {args.models_dir}/{args.name}.keras")
    return record


__all__ = ["InputError", "add_data_arg", "load_data", "parser", "train_main"]
