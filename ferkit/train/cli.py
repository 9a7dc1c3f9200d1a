"""train_cnn.py and train_dnn.py: the training flags, their checks, and the run."""

import argparse
import sys
from pathlib import Path

from ferkit import RESOLUTION_FREE
from ferkit.cli import add_data_arg, command_line, parser
from ferkit.data import load_data
from ferkit.errors import exit_on_input_error
from ferkit.quiet import import_tensorflow_quietly
from ferkit.train.calibrate_cli import calibrate_saved
from ferkit.train.config import PRECISIONS, TrainConfig
from ferkit.train.distribute import (
    KINDS,
    describe,
    make_strategy,
    split_cpu,
    tf_config_problem,
    worker_id,
)
from ferkit.train.stages import parse_progressive


def train_parser(model_name):
    d = TrainConfig()
    p = parser(
        f"Train a model on FER2013; by default the reference {model_name.upper()} with the "
        "report's recipe (Adadelta 1.0, batch 128, 200 epochs)."
    )
    add_data_arg(p)
    p.add_argument(
        "--name",
        help="run name: models/NAME.keras and .json (default: --model, or --recipe if given)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=d.seed,
        help="seeds the weights, shuffling, dropout and augmentation, and the split unless "
        "--split-seed is given",
    )
    p.add_argument(
        "--split-seed",
        type=int,
        default=None,
        help="seeds the validation split alone (default: --seed), so runs that share a split "
        "can differ in initialisation",
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
    p.add_argument("--models-dir", default=d.models_dir)
    p.add_argument("--figures-dir", default="figures")
    _add_source_args(p, d)
    _add_schedule_args(p)
    _add_recipe_args(p, model_name)
    p.add_argument(
        "--distribute",
        choices=KINDS,
        help="mirrored: MirroredStrategy over all GPUs (or the --cpu-devices); multiworker: "
        "MultiWorkerMirroredStrategy over the cluster in TF_CONFIG, every worker running "
        "the same command; --batch-size is the global batch",
    )
    p.add_argument("--cpu-devices", type=int, help="split the CPU into N logical devices")
    return p


def _add_source_args(p, d):
    """The saved runs a run builds on, and the labels it learns."""
    p.add_argument(
        "--init-from",
        metavar="MODEL",
        help="start from this saved run's weights (same architecture and validation split)",
    )
    p.add_argument(
        "--teacher",
        metavar="MODEL",
        help="distil from this saved run: its probabilities on the training faces (same "
        "data, validation faces held out) are blended into the targets",
    )
    p.add_argument(
        "--distill-weight",
        type=float,
        default=d.distill_weight,
        help="share of the teacher's probabilities in the targets (with --teacher)",
    )
    p.add_argument(
        "--teacher-tta",
        action="store_true",
        help="the teacher's probabilities averaged over its --tta views, not only the face "
        "and its mirror image (with --teacher)",
    )
    p.add_argument(
        "--consistent-teacher",
        action="store_true",
        help="the teacher labels every augmented view the student trains on, each step, "
        "instead of each plain face once (with --teacher; slower steps)",
    )
    p.add_argument(
        "--labels",
        choices=("fer2013", "ferplus-majority", "ferplus-votes"),
        default="fer2013",
        help="FER2013's labels, or Microsoft's FER+ relabelling (8 classes, contempt added): "
        "its majority vote, or its vote distribution",
    )
    p.add_argument(
        "--ferplus", metavar="PATH", help="the FER+ file (default: fer2013new.csv beside the data)"
    )


def _add_schedule_args(p):
    """How long a run lasts, and what it does once finished."""
    p.add_argument(
        "--budget-minutes",
        type=float,
        metavar="M",
        help="size the run to M minutes of this machine instead of --epochs (then a ceiling): "
        "the one-cycle or cosine schedule spans the budget, measured from the first epochs",
    )
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="after training, fit a temperature on the validation faces and store it in the "
        "model (calibrated probabilities; calibrate.py does it for saved runs)",
    )


def _add_recipe_args(p, model_name):
    """Flags that override the recipe; left out of args when not given."""
    from ferkit import ARCHITECTURES
    from ferkit.augment import PARTS, PRESETS
    from ferkit.train.optim import OPTIMIZERS, SCHEDULES
    from ferkit.train.recipes import RECIPES

    d = TrainConfig()
    g = p.add_argument_group(
        "recipe", "settings of the chosen recipe; any flag given overrides it (shown: reference)"
    )
    hide = argparse.SUPPRESS
    g.add_argument("--recipe", choices=tuple(RECIPES), default="reference", help="named recipe")
    g.add_argument(
        "--model", choices=ARCHITECTURES, default=hide, help=f"architecture ({model_name})"
    )
    g.add_argument("--epochs", type=int, default=hide, help=f"maximum epochs ({d.epochs})")
    g.add_argument("--batch-size", type=int, default=hide, help=f"({d.batch_size})")
    g.add_argument("--optimizer", choices=OPTIMIZERS, default=hide, help=f"({d.optimizer})")
    g.add_argument(
        "--lr",
        type=float,
        default=hide,
        help=f"(peak) learning rate ({d.learning_rate:g}; each optimizer has its own default)",
    )
    g.add_argument("--rho", type=float, default=hide, help=f"Adadelta rho ({d.rho})")
    g.add_argument("--weight-decay", type=float, default=hide, help="AdamW weight decay (0)")
    g.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=hide,
        help="learning-rate schedule; onecycle: linear warm-up then cosine (constant)",
    )
    g.add_argument(
        "--warmup",
        type=float,
        default=hide,
        help=f"share of a onecycle schedule spent warming up ({d.warmup})",
    )
    g.add_argument(
        "--ema",
        type=float,
        metavar="MOMENTUM",
        default=hide,
        help="validate and keep a moving average of the weights at this momentum per step, "
        "such as 0.995 (0: off)",
    )
    g.add_argument(
        "--augment",
        default=hide,
        help=f"preset ({', '.join(PRESETS)}) or comma list of {', '.join(PARTS)} (none)",
    )
    g.add_argument("--label-smoothing", type=float, default=hide, help="(0)")
    g.add_argument("--mixup", type=float, default=hide, help="MixUp alpha, 0 is off (0)")
    g.add_argument(
        "--class-weight",
        choices=("none", "balanced", "sqrt"),
        default=hide,
        help="weight the loss against class imbalance (none)",
    )
    g.add_argument(
        "--progressive",
        metavar="SIZE:EPOCHS,...",
        default=hide,
        help="train the first epochs on faces shrunk, at a fraction of the cost: 32:6,40:4 "
        "is 32 pixels for 6 epochs, then 40 for 4, then 48 (nets with global pooling; off)",
    )
    g.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=hide,
        help="bfloat16: Keras mixed precision, fast where the CPU has AMX or AVX512-BF16 "
        "and ten times slower where it has neither; auto picks it only where it is native "
        f"({d.precision})",
    )


# argparse destination -> TrainConfig field, for the recipe flags.
_RECIPE_FLAGS = {
    "model": "model",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "optimizer": "optimizer",
    "lr": "learning_rate",
    "rho": "rho",
    "weight_decay": "weight_decay",
    "schedule": "schedule",
    "augment": "augment",
    "label_smoothing": "label_smoothing",
    "mixup": "mixup",
    "class_weight": "class_weight",
    "precision": "precision",
    "progressive": "progressive",
    "warmup": "warmup",
    "ema": "ema",
}


def check_args(p, args):
    if not 0 < args.val_split < 1:
        p.error("--val-split must be between 0 and 1")
    for flag in ("epochs", "batch_size", "limit", "patience", "cpu_devices"):
        value = getattr(args, flag, None)
        if value is not None and value < 1:
            p.error(f"--{flag.replace('_', '-')} must be positive")
    if args.limit is not None and args.limit < 14:
        p.error("--limit must be at least 14 (two faces of each class)")
    if getattr(args, "budget_minutes", None) is not None and args.budget_minutes <= 0:
        p.error("--budget-minutes must be positive")
    for flag in ("lr", "weight_decay", "label_smoothing", "mixup"):
        value = getattr(args, flag, None)
        if value is not None and value < 0:
            p.error(f"--{flag.replace('_', '-')} must not be negative")
    if not 0 <= getattr(args, "distill_weight", 0.5) <= 1:
        p.error("--distill-weight must be between 0 and 1")
    if getattr(args, "teacher_tta", False) and not getattr(args, "teacher", None):
        p.error("--teacher-tta needs --teacher")
    if getattr(args, "consistent_teacher", False):
        if not getattr(args, "teacher", None):
            p.error("--consistent-teacher needs --teacher")
        if args.teacher_tta:
            p.error("--consistent-teacher labels one view at a time; drop --teacher-tta")
    if getattr(args, "label_smoothing", 0) >= 1:
        p.error("--label-smoothing must be below 1")
    if not 0 < getattr(args, "warmup", 0.3) < 1:
        p.error("--warmup must be between 0 and 1")
    if not 0 <= getattr(args, "ema", 0) < 1:
        p.error("--ema must be at least 0 and below 1")


def resolve_config(p, args, model_name):
    """The run's TrainConfig from the script's model, the recipe and the flags given."""
    from ferkit.augment import parse_augment
    from ferkit.train.recipes import resolve

    flags = {field: getattr(args, dest, None) for dest, field in _RECIPE_FLAGS.items()}
    config = resolve(model_name, args.recipe, **flags)
    try:
        parse_augment(config.augment)
    except ValueError as e:
        p.error(f"--augment: {e}")
    _check_progressive(p, args, config)
    config.name = args.name or (config.model if args.recipe == "reference" else args.recipe)
    config.seed, config.val_split, config.limit = args.seed, args.val_split, args.limit
    config.split_seed = args.split_seed
    config.patience, config.models_dir, config.distribute = (
        args.patience,
        args.models_dir,
        args.distribute,
    )
    config.init_from = args.init_from
    config.teacher, config.distill_weight = args.teacher, args.distill_weight
    config.teacher_tta = args.teacher_tta
    config.consistent_teacher = args.consistent_teacher
    config.labels = args.labels
    config.budget_minutes = args.budget_minutes
    return config


def _check_progressive(p, args, config):
    try:
        stages = parse_progressive(config.progressive)
    except ValueError as e:
        p.error(f"--progressive: {e}")
    if not stages:
        return
    if config.model not in RESOLUTION_FREE:
        p.error(f"--progressive: the {config.model} net needs 48-pixel faces")
    # The budget measures its first epochs to size the schedule; shrunk faces would
    # make it plan too many.
    if args.budget_minutes is not None:
        p.error("--progressive cannot be sized by --budget-minutes; give --epochs")
    if args.consistent_teacher:
        p.error("--progressive and --consistent-teacher cannot be combined")


@exit_on_input_error
def train_main(model_name, argv=None):
    """Entry point of train_cnn.py / train_dnn.py: they differ only in model_name."""
    p = train_parser(model_name)
    args = p.parse_args(argv)
    check_args(p, args)
    if args.distribute == "multiworker" and (problem := tf_config_problem()):
        p.error(f"--distribute multiworker: {problem}")
    config = resolve_config(p, args, model_name)
    data = load_data(args.data, labels=args.labels, ferplus=args.ferplus)
    # TensorFlow loads only once the flags and the data are known good.
    import_tensorflow_quietly()
    import tensorflow as tf

    from ferkit.models import builder_for
    from ferkit.train.loop import train

    strategy = _strategy(p, args, config)
    _say_what_trains(config, data, args.limit)
    try:
        command = command_line(f"train_{model_name}.py", argv)
        record = train(builder_for(config), data, config, strategy=strategy, command=command)
    except KeyboardInterrupt:
        print(f"\ninterrupted: run the same command again to resume {config.name}", file=sys.stderr)
        sys.exit(130)
    except (tf.errors.UnavailableError, tf.errors.CancelledError) as err:
        if args.distribute != "multiworker":
            raise
        # A worker that stops takes the collective operations of all the others with it.
        print(
            f"\nerror: lost contact with another worker ({type(err).__name__}); run the same "
            f"command again on every worker to resume {config.name}",
            file=sys.stderr,
        )
        sys.exit(1)
    if not worker_id()[0]:
        return record  # the chief writes the figure and says where the model is
    return _finish(args, config, data, record)


def _strategy(p, args, config):
    """The tf.distribute strategy the flags ask for, checked against the batch size."""
    if args.cpu_devices:
        split_cpu(args.cpu_devices)
    strategy = make_strategy(args.distribute)
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        p.error(f"--batch-size {config.batch_size} does not split evenly over {replicas} replicas")
    if args.distribute:
        per_replica = config.batch_size // replicas
        print(f"{describe(strategy)} (global batch {config.batch_size}, {per_replica} per replica)")
    return strategy


def _say_what_trains(config, data, limit):
    from ferkit.models import BUILDERS, count_params

    names = dict.fromkeys(("cnn", "dnn", config.model))
    counts = {name: count_params(BUILDERS[name]()) for name in names}
    print("trainable parameters: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    rows = f"{limit} of {data.y_train.size}" if limit else f"{data.y_train.size}"
    if data.labels != "fer2013":
        rows += f", {int((data.y_train >= 0).sum())} of them labelled under {data.labels}"
    print(
        f"training {config.name} ({config.model}, recipe {config.recipe}) on {data.source}: "
        f"{rows} rows",
        flush=True,
    )


def _finish(args, config, data, record):
    """The chief's last steps: calibration if asked, the history figure, the summary."""
    from ferkit.plotting import plot_history, plt

    if args.calibrate:
        record = calibrate_saved(Path(args.models_dir) / f"{config.name}.keras", data)
        print(f"calibrated: temperature {record['calibration']['temperature']:.3f}")
    fig = plot_history(
        record["history"], title=f"{config.name}: best val {record['val_accuracy']:.3f}"
    )
    Path(args.figures_dir).mkdir(parents=True, exist_ok=True)
    fig.savefig(Path(args.figures_dir) / f"{config.name}_history.png", dpi=100)
    plt.close(fig)
    summary = (
        f"{config.name}: val accuracy {record['val_accuracy']:.4f} (epoch {record['best_epoch']})"
    )
    if record["public_accuracy"] is not None:
        summary += f", public accuracy {record['public_accuracy']:.4f}"
    print(summary + f"; saved {args.models_dir}/{config.name}.keras")
    return record
