"""One training function shared by every trainer; the builder is the only difference.

A run goes through four phases, each a function below: prepare (the split, the runs it
builds on, the precision), build (the model, its warm start or resumed state, its
teacher), fit (callbacks, budget, Keras's fit) and finish (the model scored once, the
record written).
"""

import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import tensorflow as tf

from ferkit.evaluate import run_measures
from ferkit.limits import max_steps
from ferkit.models import count_params
from ferkit.precision import choose_precision, dtype_policy
from ferkit.record import init_summary, lineage_cost, read_record, run_record, write_record
from ferkit.runs import run_paths, save_model_atomic, write_json
from ferkit.train.budget import budget_callback, budget_schedule, first_guess
from ferkit.train.callbacks import epoch_log_callback, resumable_early_stopping, snapshot_callback
from ferkit.train.config import RESUME_KEYS
from ferkit.train.consistent import consistent_teacher
from ferkit.train.distill import distill_targets, teacher_record, teaching_views
from ferkit.train.distribute import prepare_model, strategy_name, worker_id
from ferkit.train.optim import ema_callback, make_optimizer, make_schedule, plateau_callback
from ferkit.train.pipeline import class_weights, make_dataset, split
from ferkit.train.progressive import ProgressiveResolution, progressive_callback
from ferkit.train.recipes import recipe_changes
from ferkit.train.resume import RunDir, architecture_id, check_resumable
from ferkit.train.sources import warm_start
from ferkit.train.stages import parse_progressive


@dataclass
class Run:
    """What the phases of one run share."""

    config: object
    data: object
    out: object
    strategy: object
    chief: bool
    dir: RunDir
    train_idx: object
    val_idx: object
    split_method: str
    precision: object
    command: str | None = None
    teacher: dict | None = None
    init_record: dict | None = None
    start_epoch: int = 0
    fitted: bool = False  # its training ended, its finish did not
    history: list = field(default_factory=list)

    @property
    def steps_per_epoch(self):
        return -(-self.train_idx.size // self.config.batch_size)

    @property
    def models_dir(self):
        """Where the run's files land: models_dir, or its scratch folder on a worker."""
        return Path(self.config.models_dir) if self.chief else self.dir.path


def train(builder, data, config, out=None, strategy=None, extra_callbacks=(), command=None):
    """Trains builder()'s model on data with config; writes NAME.keras and NAME.json.

    Args:
        builder: returns an uncompiled model.
        data: a FERData.
        config: a TrainConfig.
        out: where progress lines go (default stdout).
        strategy: a tf.distribute strategy (default: TensorFlow's, one device). Under
            multi-worker training only the chief writes the run's files; the others
            keep their scratch state beside it until the run ends.
        extra_callbacks: more Keras callbacks, run after the progress line is logged.
        command: the command line that started the run, for its record.

    Returns:
        The run record (the JSON content) as a dict.
    """
    run = prepare(data, config, out or sys.stdout, strategy, command)
    model, fitted, budget_lr = build(builder, run)
    if run.fitted:
        print(f"finishing {config.name}: its training had ended", file=run.out, flush=True)
        with run.strategy.scope():
            fitted.load_weights(run.dir.best)
    else:
        fit(run, model, fitted, budget_lr, extra_callbacks)
        run.dir.fitted.touch()
    with run.strategy.scope():
        record = finish(run, model)
    shutil.rmtree(run.dir.path, ignore_errors=True)
    return record


def prepare(data, config, out, strategy, command):
    """The run's split, the runs it builds on (checked before anything is written), its
    precision on this machine, and the epoch it resumes from."""
    keras.utils.set_random_seed(config.seed)
    chief, task = worker_id()
    # Every worker keeps its own backup, so a stopped multi-worker run resumes on all of
    # them from the same epoch; only the chief's final files land in models_dir.
    run_dir = RunDir(config.models_dir, config.name if chief else f"{config.name}.worker{task}")
    strata = data.y_train if data.split_labels is None else data.split_labels
    train_idx, val_idx, split_method = split(strata, config, usable=data.y_train >= 0)
    precision = choose_precision(config.precision)
    print(precision.line, file=sys.stderr if "warning" in precision.line else out, flush=True)
    run = Run(
        config,
        data,
        out,
        strategy or tf.distribute.get_strategy(),
        chief,
        run_dir,
        train_idx,
        val_idx,
        split_method,
        precision,
        command,
    )
    if config.teacher:
        run.teacher = teacher_record(config.teacher, data, val_idx, config.num_classes)
    if config.init_from:
        # Read once, also on resuming: every save records the run this one started from.
        run.init_record = read_record(run_paths(config.init_from)[1])
    run.start_epoch = run_dir.resume_epoch()
    run.fitted = run_dir.fitted.exists() and run_dir.best.exists()
    run.history = run_dir.read_history()[: run.start_epoch]
    return run


def build(builder, run):
    """The model and what fit() trains (the model, or a wrapper that shares its weights
    and brings a consistent teacher), compiled; started from a saved run's weights, or
    checked against the settings of the run it resumes. Returns (model, fitted, the
    budgeted learning-rate schedule or None)."""
    config, budget_lr = run.config, None
    with dtype_policy(run.precision.used), run.strategy.scope():
        model = builder()
        fitted = model
        if run.teacher and config.consistent_teacher:
            fitted = consistent_teacher(model, config.teacher, config.distill_weight)
        elif config.progressive:
            fitted = ProgressiveResolution(model, name="progressive")
        if config.budget_minutes and config.schedule in ("onecycle", "cosine") and not run.fitted:
            guess = first_guess(
                model,
                run.data.x_train,
                run.steps_per_epoch,
                config.batch_size,
                60 * config.budget_minutes,
                teacher=fitted.teacher if fitted is not model else None,
            )
            total = min(guess, config.epochs) * run.steps_per_epoch
            budget_lr = budget_schedule(config.schedule, config.learning_rate, total, config.warmup)
        total_steps = run.steps_per_epoch * config.epochs
        fitted.compile(**compile_args(config, total_steps, budget_lr))
    settings = {k: getattr(config, k) for k in RESUME_KEYS}
    settings |= {"data": run.data.fingerprint, "architecture": architecture_id(model)}
    if run.fitted:
        check_resumable(run.dir, settings)
    elif run.start_epoch:
        check_resumable(run.dir, settings)
        print(f"resuming {config.name} from epoch {run.start_epoch}", file=run.out, flush=True)
    else:
        if config.init_from:
            warm_start(model, config.init_from, run.init_record, run.data, run.val_idx, run.out)
            print(f"starting {config.name} from the weights of {config.init_from}", file=run.out)
        shutil.rmtree(run.dir.path, ignore_errors=True)
        run.dir.path.mkdir(parents=True)
        write_json(run.dir.config, settings)
    return model, fitted, budget_lr


def fit(run, model, fitted, budget_lr, extra_callbacks):
    """Keras's fit() with the run's callbacks, from the epoch it resumes at; leaves the
    best epoch's weights in model."""
    config, data = run.config, run.data
    x, y, val_idx = data.x_train, data.y_train, run.val_idx
    # FER+ votes train on each face's distribution; accuracy still counts its top class.
    targets = y if data.soft_train is None else data.soft_train.astype("float32")
    train_targets = targets
    if run.teacher and not config.consistent_teacher:
        train_targets = distill_targets(
            config.teacher,
            data,
            val_idx,
            config.distill_weight,
            config.num_classes,
            cache=run.dir.path / "teacher.npy",
            tta=config.teacher_tta,
        )
    if run.teacher:
        views = teaching_views(config.teacher_tta, config.consistent_teacher)
        print(
            f"distilling from {config.teacher} (weight {config.distill_weight:g}{views})",
            file=run.out,
        )
    hot, cap = config.one_hot, max_steps()
    prepare_model(fitted, run.strategy)
    # Under a multi-worker strategy, prepare_model leaves fit to find it in the scope.
    with run.strategy.scope():
        fitted.fit(
            make_dataset(
                x[run.train_idx],
                train_targets[run.train_idx],
                config.batch_size,
                config.seed + run.start_epoch,
                one_hot=hot,
                mixup=config.mixup,
                num_classes=config.num_classes,
            ),
            validation_data=make_dataset(
                x[val_idx], targets[val_idx], 512, one_hot=hot, num_classes=config.num_classes
            ),
            class_weight=class_weights(y[run.train_idx], config.class_weight),
            epochs=config.epochs,
            steps_per_epoch=cap,
            validation_steps=cap,
            callbacks=callbacks(run, model, budget_lr, extra_callbacks),
            shuffle=False,  # the dataset shuffles itself, seeded
            verbose=1 if run.out.isatty() else 0,
        )
        if run.dir.best.exists():
            fitted.load_weights(run.dir.best)


def callbacks(run, model, budget_lr, extra):
    """The averaged weights swapped in (--ema), the progress line, the logs, the best
    weights, a snapshot of the best model so far, the budget, early stopping and the
    backup, in the order they must run."""
    config, history = run.config, run.history
    best_so_far = max((h["val_accuracy"] for h in history), default=None)
    prior = history[-1]["wall_seconds"] if history else 0.0
    found = [ema_callback(resumed=bool(run.start_epoch))] if config.ema else []
    found += [
        # A constant rate needs no column (and resumed older runs have none).
        epoch_log_callback(prior, config.epochs, run.out, log_lr=config.schedule != "constant"),
        keras.callbacks.CSVLogger(str(run.dir.history), append=True),
        keras.callbacks.ModelCheckpoint(
            str(run.dir.best),
            monitor="val_accuracy",
            mode="max",
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=best_so_far,
        ),
    ]
    if config.budget_minutes:
        found.append(
            budget_callback(
                60 * config.budget_minutes,
                run.steps_per_epoch,
                budget_lr,
                run.dir.path / "budget.json",
                prior,
            )
        )
    found += list(extra)
    snapshot = lambda history, finished: save(run, model, history, finished)  # noqa: E731
    found.append(snapshot_callback(snapshot, run.dir.read_history, best_so_far))
    if config.patience:
        found.append(resumable_early_stopping(config.patience, history))
    if config.schedule == "plateau":
        found.append(plateau_callback())
    if config.progressive:
        found.append(progressive_callback(parse_progressive(config.progressive), run.out))
    found.append(keras.callbacks.BackupAndRestore(str(run.dir.backup), double_checkpoint=True))
    return found


def finish(run, model):
    """The finished run: its best model scored once, on validation and public, and its
    files written."""
    return save(run, model, run.dir.read_history(), finished=True)


def save(run, model, history, finished):
    """Writes models/NAME.keras and its record: a snapshot at the best epoch so far, or
    the finished run with every measure of ferkit.evaluate."""
    config, data = run.config, run.data
    measures = run_measures(model, data, run.val_idx) if finished else None
    record = run_record(
        asdict(config),
        data,
        history,
        split_entry(run),
        measures,
        finished,
        recipe_changes=recipe_changes(asdict(config), run.precision.used),
        params=count_params(model),
        command=run.command,
    )
    if run.init_record:
        record["init"] = init_summary(config.init_from, run.init_record)
    if run.teacher:
        record["teacher"] = init_summary(config.teacher, run.teacher)
    record["lineage"] = lineage_cost(record, Path(config.models_dir))
    record["devices"] = [d.device_type for d in tf.config.list_logical_devices()]
    record["strategy"] = {
        "name": strategy_name(run.strategy),
        "replicas": run.strategy.num_replicas_in_sync,
    }
    # What ran, beside what was asked: auto resolves per machine (machine.cpu has the
    # flags it went by).
    record["precision"] = {
        "asked": config.precision,
        "used": run.precision.used,
        "native_bfloat16": run.precision.native_bfloat16,
    }
    save_model_atomic(model, run.models_dir / f"{config.name}.keras")
    write_record(run.models_dir / f"{config.name}.json", record)
    return record


def split_entry(run):
    """The record's account of the validation split: how it was drawn, and its rows."""
    config = run.config
    return {
        "method": run.split_method,
        "seed": config.split_seed_used,
        "val_split": config.val_split,
        "limit": config.limit,
        "n_train": int(run.train_idx.size),
        "n_val": int(run.val_idx.size),
        "val_indices": run.val_idx.tolist(),
    }


def compile_args(config, total_steps, lr=None):
    """Optimizer, loss and metric of a run: the reference recipe compiles exactly as
    the report's Keras code did."""
    if lr is None:  # a budgeted run brings its own schedule
        lr = make_schedule(config.schedule, config.learning_rate, total_steps, config.warmup)
    optimizer = make_optimizer(config.optimizer, lr, config.rho, config.weight_decay, config.ema)
    args = {"optimizer": optimizer}
    if config.one_hot:
        args["loss"] = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
        args["metrics"] = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    else:
        args["loss"] = "sparse_categorical_crossentropy"
        args["metrics"] = ["accuracy"]
    return args
